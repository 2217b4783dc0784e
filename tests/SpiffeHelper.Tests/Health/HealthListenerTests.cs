using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using SpiffeHelper.Config;
using SpiffeHelper.Health;

namespace SpiffeHelper.Tests.Health;

/// <summary>Where the health listener listens: as the Go tool's <c>:port</c> by default, one address with health_checks.bind_address.</summary>
public sealed class HealthListenerTests
{
    private const string Outputs = "svid_file_name = \"svid.pem\"\nsvid_key_file_name = \"svid_key.pem\"\nsvid_bundle_file_name = \"bundle.pem\"\n";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    /// <summary>The machine has an IPv6 loopback (<c>ip -6 addr</c> shows <c>::1</c>); the IPv6 half is skipped without one.</summary>
    private static bool HasIpv6Loopback()
    {
        if (!Socket.OSSupportsIPv6)
        {
            return false;
        }

        try
        {
            using var probe = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task<int> GetStatusAsync(IPAddress address, int port)
    {
        using var http = new HttpClient { Timeout = Timeout };
        using var response = await http.GetAsync(new Uri($"http://{new IPEndPoint(address, port)}/live")).WaitAsync(Timeout);
        return (int)response.StatusCode;
    }

    private static async Task<bool> RefusedAsync(IPAddress address, int port)
    {
        using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(address, port)).WaitAsync(Timeout);
            return false;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
    }

    private HealthServer Server(IPAddress? bindAddress) =>
        new(HealthOptions.Default with { Enabled = true, BindPort = 0, BindAddress = bindAddress }, new HealthState(["svid.pem"], _time), NullLogger<HealthServer>.Instance);

    [Fact]
    public async Task Start_NoBindAddress_AnswersOnIpv4AndIpv6LoopbackAsGoPort()
    {
        await using var server = Server(null);
        server.Start();

        Assert.Equal(200, await GetStatusAsync(IPAddress.Loopback, server.Port));
        if (HasIpv6Loopback())
        {
            Assert.Equal(200, await GetStatusAsync(IPAddress.IPv6Loopback, server.Port));
        }
    }

    [Fact]
    public async Task Start_BindAddressIpv4Loopback_AnswersThereOnly()
    {
        await using var server = Server(IPAddress.Loopback);
        server.Start();

        Assert.Equal(200, await GetStatusAsync(IPAddress.Loopback, server.Port));
        if (HasIpv6Loopback())
        {
            Assert.True(await RefusedAsync(IPAddress.IPv6Loopback, server.Port), "[::1] was accepted");
        }
    }

    [Fact]
    public async Task Start_BindAddressIpv6Loopback_AnswersThereOnly()
    {
        if (!HasIpv6Loopback())
        {
            return;
        }

        await using var server = Server(IPAddress.IPv6Loopback);
        server.Start();

        Assert.Equal(200, await GetStatusAsync(IPAddress.IPv6Loopback, server.Port));
        Assert.True(await RefusedAsync(IPAddress.Loopback, server.Port), "127.0.0.1 was accepted");
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("0.0.0.0")]
    public void Load_BindAddress_IsTheAddressGiven(string address)
    {
        var result = ConfigLoader.Parse(Outputs + $"[health_checks]\nlistener_enabled = true\nbind_address = \"{address}\"\n", "/etc/helper.conf", _ => null, null, "/work");

        Assert.Empty(result.Errors);
        Assert.Equal(IPAddress.Parse(address), result.Options!.Health.BindAddress);
    }

    [Fact]
    public void Load_NoBindAddress_IsNull()
    {
        var result = ConfigLoader.Parse(Outputs + "[health_checks]\nlistener_enabled = true\n", "/etc/helper.conf", _ => null, null, "/work");

        Assert.Null(result.Options!.Health.BindAddress);
    }

    [Fact]
    public void Load_BindAddressNotAnIp_NamesTheKeyAndWhatIsValid()
    {
        var result = ConfigLoader.Parse(Outputs + "[health_checks]\nbind_address = \"localhost\"\n", "/etc/helper.conf", _ => null, null, "/work");

        var error = Assert.Single(result.Errors);
        Assert.Equal("health_checks.bind_address", error.Key);
        Assert.Contains("127.0.0.1 or ::1", error.Reason, StringComparison.Ordinal);
    }
}
