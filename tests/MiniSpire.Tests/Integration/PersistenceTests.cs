using System.Diagnostics;
using MiniSpire.Tests.Support;

namespace MiniSpire.Tests.Integration;

public sealed class PersistenceTests
{
    /// <summary>
    /// A real <c>minispire server run</c> child process: entries acknowledged by the CLI, then SIGKILL with no
    /// warning, then a restart on the same data_dir: every acknowledged entry is there, and the CA is the same.
    /// </summary>
    [Fact]
    public async Task ServerProcess_KilledWithSigkill_RestartKeepsEveryEntryAndTheCa()
    {
        var root = TestServer.NewTempDirectory();
        try
        {
            var socket = Path.Combine(root, "private", "api.sock");
            var config = Path.Combine(root, "server.toml");
            await File.WriteAllTextAsync(config, $"""
                [server]
                trust_domain = "example.org"
                bind_address = "127.0.0.1"
                bind_port = {TestServer.FreePort()}
                socket_path = "{socket}"
                data_dir = "{Path.Combine(root, "data")}"
                log_level = "WARN"
                """);

            string bundleBefore;
            var created = new List<string>();
            using (var first = await StartAsync(config, socket))
            {
                bundleBefore = (await TestServer.RunCliAsync(socket, "bundle", "show")).Stdout;
                for (var i = 0; i < 15; i++)
                {
                    var result = await TestServer.RunCliAsync(socket, "entry", "create", "-parentID", "spiffe://example.org/host", "-spiffeID", $"spiffe://example.org/w{i}", "-selector", $"unix:uid:{i}");
                    Assert.True(result.ExitCode == 0, result.Stderr);
                    created.Add(result.EntryId);
                }

                first.Kill(); // SIGKILL on Unix: no shutdown, no flush
                await first.WaitForExitAsync().Within();
            }

            using var second = await StartAsync(config, socket);
            var shown = await TestServer.RunCliAsync(socket, "entry", "show");
            var bundleAfter = (await TestServer.RunCliAsync(socket, "bundle", "show")).Stdout;

            // The real binary as a user runs it: exit codes and streams.
            var (showExit, showOut, _) = await RunMinispireAsync("server", "entry", "show", "-spiffeID", "spiffe://example.org/w3", "-socketPath", socket);
            var (badExit, _, badErr) = await RunMinispireAsync("server", "entry", "create", "-parentID", "spiffe://example.org/host", "-spiffeID", "spiffe://other.org/x", "-selector", "unix:uid:1", "-socketPath", socket);
            second.Kill();
            Assert.Equal(0, showExit);
            Assert.Contains(created[3], showOut, StringComparison.Ordinal);
            Assert.Equal(1, badExit);
            Assert.Contains("spiffe_id:", badErr, StringComparison.Ordinal);
            await second.WaitForExitAsync().Within();

            Assert.StartsWith("Found 15 entries", shown.Stdout, StringComparison.Ordinal);
            Assert.All(created, id => Assert.Contains(id, shown.Stdout, StringComparison.Ordinal));
            Assert.Equal(bundleBefore, bundleAfter);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunMinispireAsync(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "minispire.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().Within();
        return (process.ExitCode, await stdout.Within(), await stderr.Within());
    }

    private static async Task<Process> StartAsync(string config, string socket)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "minispire.dll"));
        foreach (var arg in new[] { "server", "run", "-config", config })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var deadline = TimeProvider.System.GetUtcNow().AddSeconds(30);
        while (TimeProvider.System.GetUtcNow() < deadline)
        {
            Assert.False(process.HasExited, "the server process exited during start-up");
            if (File.Exists(socket) && (await TestServer.RunCliAsync(socket, "healthcheck")).ExitCode == 0)
            {
                return process;
            }

            await Task.Delay(200);
        }

        process.Kill();
        throw new TimeoutException("the server process did not become healthy within 30 s");
    }
}
