using System.Net.Sockets;
using System.Text.Json;
using EndToEnd.Tests.Support;
using Spiffe.Testing;

namespace EndToEnd.Tests;

/// <summary>
/// The most common first failure on Kubernetes is a wrong or missing Workload API socket. The published helper
/// says so with the path and the real cause, in its log and in /ready's reason (not "Cannot assign requested
/// address (localhost:80)"), and so does the minispire CLI for its own sockets.
/// </summary>
public sealed class WorkloadApiSocketErrorTests : IAsyncLifetime
{
    private const string Id = "spiffe://example.org/web";
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private LocalMiniSpire _stack = null!;
    private string _certs = null!;

    public async Task InitializeAsync()
    {
        _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);
        _certs = Path.Combine(_stack.Root, "certs");
    }

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    private static async Task<(int Status, string? Reason, string Body)> ReadyAsync(HelperRun helper)
    {
        var (status, body) = await helper.ReadinessAsync();
        if (status == 0)
        {
            return (0, null, body);
        }

        using var json = JsonDocument.Parse(body);
        return (status, json.RootElement.GetProperty("spiffe_helper").TryGetProperty("reason", out var reason) ? reason.GetString() : null, body);
    }

    private static async Task WaitForReasonAsync(HelperRun helper, string reason, int status) =>
        await Eventually.HoldsAsync(
            async () => await ReadyAsync(helper) is var ready && ready.Status == status && ready.Reason == reason,
            Timeout,
            () => $"readiness {ReadyAsync(helper).Result}\n{helper.Output}");

    [Fact]
    public async Task AgentStoppedThenSocketRemoved_ReadyReasonAndLogNameThePathAndEachCause()
    {
        await _stack.CreateEntryAsync(Id, "-selector", $"unix:uid:{Identity.Uid()}");
        var socket = _stack.AgentSocket;
        await using var helper = await HelperRun.StartAsync(_stack.Root, socket, _certs);
        await Eventually.HoldsAsync(async () => (await helper.ReadinessAsync()).Status == 200, Timeout, () => helper.Output + _stack.Output);

        // SIGKILL leaves the socket file behind with nobody accepting on it.
        await _stack.KillAgentAsync();
        Assert.True(File.Exists(socket), "the killed agent's socket file is gone");
        var refused = $"no Workload API socket at {socket} (Connection refused: the socket file is there but nothing accepts connections on it)";
        await WaitForReasonAsync(helper, refused, 200);

        File.Delete(socket);
        var missing = $"no Workload API socket at {socket} (No such file or directory)";

        // The files on disk stay valid, so the helper stays ready (as the Go tool): the reason says what is wrong.
        await WaitForReasonAsync(helper, missing, 200);
        Assert.Contains(refused, helper.Output, StringComparison.Ordinal);
        Assert.Contains(missing, helper.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("localhost:80", helper.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Cannot assign requested address", helper.Output, StringComparison.Ordinal);
        using var body = JsonDocument.Parse((await ReadyAsync(helper)).Body);
        Assert.Equal("written", body.RootElement.GetProperty("health").GetProperty("file_write_statuses").GetProperty("x509_write_status").GetString());

        // The agent back on the same path: the reason goes away without a helper restart.
        await _stack.StartAgentAsync();
        await Eventually.HoldsAsync(async () => await ReadyAsync(helper) is (200, null, _), Timeout, () => $"readiness {ReadyAsync(helper).Result}\n{helper.Output}");
    }

    [Fact]
    public async Task AgentAddressIsARegularFile_NotReadyAndTheReasonSaysItIsNotASocket()
    {
        var path = Path.Combine(_stack.Root, "api.sock");
        await File.WriteAllTextAsync(path, "not a socket");
        await using var helper = await HelperRun.StartAsync(_stack.Root, path, _certs);

        var reason = $"no Workload API socket at {path} (a regular file is there, not a socket)";
        await WaitForReasonAsync(helper, "no file written yet: " + reason, 503);
        Assert.Contains(reason, helper.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentAddressNobodyListensOn_NotReadyAndTheReasonSaysConnectionRefused()
    {
        var path = Path.Combine(_stack.Root, "bound.sock");
        using var bound = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        bound.Bind(new UnixDomainSocketEndPoint(path));
        await using var helper = await HelperRun.StartAsync(_stack.Root, path, _certs);

        var reason = $"no Workload API socket at {path} (Connection refused: the socket file is there but nothing accepts connections on it)";
        await WaitForReasonAsync(helper, "no file written yet: " + reason, 503);
        Assert.Contains(reason, helper.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentSocketNotAccessibleToTheHelpersUser_NotReadyAndTheReasonSaysPermissionDenied()
    {
        // A listening socket only root may use (0700); the helper runs as nobody.
        var path = Path.Combine(_stack.Root, "private.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var home = Path.Combine(_stack.Root, "nobody-home");
        Directory.CreateDirectory(home);
        Directory.CreateDirectory(_certs);
        Identity.GiveTo(_certs, "nobody");
        await using var helper = await HelperRun.StartAsync(home, path, _certs, user: "nobody");

        var reason = $"no access to the Workload API socket at {path} (Permission denied)";
        await WaitForReasonAsync(helper, "no file written yet: " + reason, 503);
        Assert.Contains(reason, helper.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MiniSpireCli_MissingSockets_NameThePath()
    {
        var missing = Path.Combine(_stack.Root, "nowhere", "api.sock");

        var server = await _stack.MiniSpireAsync("server", "entry", "show", "-socketPath", missing);
        var agent = await _stack.MiniSpireAsync("agent", "api", "fetch", "x509", "-socketPath", missing);
        var health = await _stack.MiniSpireAsync("server", "healthcheck", "-verbose", "-socketPath", missing);

        Assert.Equal(3, server.ExitCode); // unreachable (src/MiniSpire/README.md, exit codes)
        Assert.Contains($"Error: no MiniSpire server at {missing} (No such file or directory)", server.StandardError, StringComparison.Ordinal);
        Assert.Equal(3, agent.ExitCode);
        Assert.Contains($"Error: no MiniSpire agent at {missing} (No such file or directory)", agent.StandardError, StringComparison.Ordinal);
        Assert.Contains($"no MiniSpire server at {missing} (No such file or directory)", health.StandardError, StringComparison.Ordinal);
    }
}
