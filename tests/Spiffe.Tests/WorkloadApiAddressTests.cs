using System.Net;
using Spiffe.WorkloadApi;

namespace Spiffe.Tests;

public sealed class WorkloadApiAddressTests
{
    [Theory]
    [InlineData("unix:///tmp/agent.sock", "/tmp/agent.sock")]
    [InlineData("unix:/tmp/agent.sock", "/tmp/agent.sock")]
    [InlineData("/run/spire/sockets/agent.sock", "/run/spire/sockets/agent.sock")]
    [InlineData("unix:///spiffe-workload-api/spire-agent.sock", "/spiffe-workload-api/spire-agent.sock")]
    public void Parse_UnixForms_GiveTheSocketPath(string text, string path)
    {
        var address = WorkloadApiAddress.Parse(text);

        Assert.Equal(path, address.SocketPath);
        Assert.Null(address.TcpEndPoint);
        Assert.Equal(text, address.ToString());
    }

    [Theory]
    [InlineData("tcp://127.0.0.1:8082", "127.0.0.1", 8082)]
    [InlineData("tcp://[::1]:9000", "::1", 9000)]
    public void Parse_TcpForm_GivesTheEndPoint(string text, string ip, int port)
    {
        var address = WorkloadApiAddress.Parse(text);

        Assert.Equal(new IPEndPoint(IPAddress.Parse(ip), port), address.TcpEndPoint);
        Assert.Null(address.SocketPath);
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("relative/agent.sock", "not a valid Workload API address")]
    [InlineData("unix:agent.sock", "must not be opaque")]
    [InlineData("unix://host/agent.sock", "must not have an authority")]
    [InlineData("unix:///tmp/agent.sock?x=1", "must not have a query")]
    [InlineData("unix:///tmp/agent.sock#x", "must not have a fragment")]
    [InlineData("unix:///", "must include a path")]
    [InlineData("tcp://localhost:8082", "must be an IP address")]
    [InlineData("tcp://127.0.0.1", "must include a port")]
    [InlineData("tcp://127.0.0.1:8082/path", "must not have a path")]
    [InlineData("tcp://user@127.0.0.1:8082", "user information")]
    [InlineData("http://127.0.0.1:8082", "must be \"unix\" or \"tcp\"")]
    public void Parse_Invalid_SaysWhatIsWrong(string text, string reason)
    {
        var error = Assert.Throws<FormatException>(() => WorkloadApiAddress.Parse(text));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_PrefersConfiguredThenEnvironmentThenFallback()
    {
        var saved = Environment.GetEnvironmentVariable(WorkloadApiAddress.EndpointSocketVariable);
        try
        {
            Environment.SetEnvironmentVariable(WorkloadApiAddress.EndpointSocketVariable, "unix:///from/env.sock");
            Assert.Equal("/configured.sock", WorkloadApiAddress.Resolve("/configured.sock").SocketPath);
            Assert.Equal("/from/env.sock", WorkloadApiAddress.Resolve(null).SocketPath);

            Environment.SetEnvironmentVariable(WorkloadApiAddress.EndpointSocketVariable, "bogus://x");
            var error = Assert.Throws<FormatException>(() => WorkloadApiAddress.Resolve(null));
            Assert.StartsWith("SPIFFE_ENDPOINT_SOCKET: ", error.Message, StringComparison.Ordinal);

            Environment.SetEnvironmentVariable(WorkloadApiAddress.EndpointSocketVariable, null);
            Assert.Equal(WorkloadApiAddress.DefaultSocketPath, WorkloadApiAddress.Resolve(null).SocketPath);
            Assert.Throws<FormatException>(() => WorkloadApiAddress.Resolve(null, fallback: null));
        }
        finally
        {
            Environment.SetEnvironmentVariable(WorkloadApiAddress.EndpointSocketVariable, saved);
        }
    }
}
