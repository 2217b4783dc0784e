using System.Net;
using System.Net.Sockets;
using MiniSpire.Cli;
using MiniSpire.Tests.Support;

namespace MiniSpire.Tests.Integration;

public sealed class ServerRunTests
{
    [Fact]
    public async Task ServerRun_PortInUse_ExitsNonZeroSayingWhy()
    {
        var root = TestServer.NewTempDirectory();
        using var occupier = new TcpListener(IPAddress.Loopback, 0);
        occupier.Start();
        var port = ((IPEndPoint)occupier.LocalEndpoint).Port;
        try
        {
            var config = Path.Combine(root, "server.toml");
            await File.WriteAllTextAsync(config, $"""
                [server]
                trust_domain = "example.org"
                bind_address = "127.0.0.1"
                bind_port = {port}
                socket_path = "{Path.Combine(root, "private", "api.sock")}"
                data_dir = "{Path.Combine(root, "data")}"
                log_level = "ERROR"
                """);
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();

            var exit = await MiniSpireCli.RunAsync(["server", "run", "-config", config], stdout, stderr).Within();

            Assert.Equal(1, exit);
            Assert.Contains("the server cannot start", stderr.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
