using System.Diagnostics;
using System.Text.Json;
using MiniSpire.Cli;
using MiniSpire.Config;
using MiniSpire.Tests.Support;

namespace MiniSpire.Tests.Integration;

/// <summary>`server|agent run` and `validate` take SPIRE's flag overrides of config keys; `-logFormat json`.</summary>
public sealed class RunFlagsTests : IDisposable
{
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private readonly string _root = TestServer.NewTempDirectory();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void ServerConfig_Overrides_WinOverTheFileAndAreCheckedAsKeys()
    {
        var overrides = new Dictionary<string, object> { ["log_level"] = "DEBUG", ["trust_domain"] = "override.org", ["bind_port"] = 9443L, ["log_format"] = "json" };

        var options = ServerConfigLoader.Load("[server]\ntrust_domain = \"example.org\"\ndata_dir = \"/d\"\nlog_level = \"INFO\"", overrides);
        var error = Assert.Throws<ConfigException>(() => ServerConfigLoader.Load("[server]\ndata_dir = \"/d\"", new Dictionary<string, object> { ["log_format"] = "xml", ["bind_port"] = 0L }));

        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Debug, options.LogLevel);
        Assert.Equal("override.org", options.TrustDomain.Name);
        Assert.Equal(9443, options.BindPort);
        Assert.True(options.JsonLogs);
        Assert.Contains("server.log_format: \"xml\" is not one of text, json", error.Message, StringComparison.Ordinal);
        Assert.Contains("server.bind_port:", error.Message, StringComparison.Ordinal);
        Assert.Contains("server.trust_domain is required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerValidate_FlagsCompleteOrBreakTheConfig_ExitCodeSays()
    {
        var config = Path.Combine(_root, "server.toml");
        await File.WriteAllTextAsync(config, $"[server]\ndata_dir = \"{_root}/data\"\n");

        var incomplete = await CliAsync("server", "validate", "-config", config);
        var completed = await CliAsync("server", "validate", "-config", config, "-trustDomain", "example.org", "-logLevel", "DEBUG");
        var broken = await CliAsync("server", "validate", "-config", config, "-trustDomain", "example.org", "-logLevel=LOUD");
        var missing = await CliAsync("server", "validate", "-config", Path.Combine(_root, "none.toml"));

        Assert.Equal(ExitCodes.UsageOrConfig, incomplete.ExitCode);
        Assert.Contains("server.trust_domain is required", incomplete.Stderr, StringComparison.Ordinal);
        Assert.Equal((0, "MiniSpire server configuration file is valid."), (completed.ExitCode, completed.Stdout.Trim()));
        Assert.Equal(ExitCodes.UsageOrConfig, broken.ExitCode);
        Assert.Contains("server.log_level: \"LOUD\"", broken.Stderr, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.UsageOrConfig, missing.ExitCode);
        Assert.Contains("none.toml", missing.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_root, "data")), "validate must not create the data directory");
    }

    [Fact]
    public async Task AgentValidate_FlagsCompleteOrBreakTheConfig_ExitCodeSays()
    {
        var config = Path.Combine(_root, "agent.toml");
        await File.WriteAllTextAsync(config, $"[agent]\ndata_dir = \"{_root}/agent\"\ninsecure_bootstrap = true\n");
        var tokenFile = Path.Combine(_root, "token");
        await File.WriteAllTextAsync(tokenFile, "abc\n");

        var incomplete = await CliAsync("agent", "validate", "-config", config);
        var completed = await CliAsync("agent", "validate", "-config", config, "-trustDomain", "example.org", "-serverAddress", "127.0.0.1", "-serverPort", "8443", "-joinTokenFile", tokenFile, "-logFormat", "json");
        var broken = await CliAsync("agent", "validate", "-config", config, "-trustDomain", "example.org", "-serverAddress", "127.0.0.1", "-socketPath", "relative.sock");

        Assert.Equal(ExitCodes.UsageOrConfig, incomplete.ExitCode);
        Assert.Contains("agent.trust_domain is required", incomplete.Stderr, StringComparison.Ordinal);
        Assert.Contains("agent.server_address is required", incomplete.Stderr, StringComparison.Ordinal);
        Assert.True(completed.ExitCode == 0, completed.Stderr);
        Assert.Equal(ExitCodes.UsageOrConfig, broken.ExitCode);
        Assert.Contains("agent.socket_path: \"relative.sock\" must be an absolute path", broken.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerRun_ConfigAndSpireFlagOverrides_ServesOnTheFlagsSocketWithJsonLogs()
    {
        var config = Path.Combine(_root, "server.toml");
        await File.WriteAllTextAsync(config, $"[server]\ntrust_domain = \"example.org\"\ndata_dir = \"{_root}/data\"\nlog_level = \"ERROR\"\n");
        var socket = Path.Combine(_root, "flag", "api.sock");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[]
        {
            MiniSpireDll, "server", "run", "-config", config, "-logLevel", "DEBUG", "-logFormat", "json",
            "-socketPath", socket, "-bindAddress", "127.0.0.1", "-serverPort", TestServer.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
        })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var lines = new List<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                lock (lines)
                {
                    lines.Add(line);
                }
            }
        };
        process.BeginOutputReadLine();
        try
        {
            CliResult health = new(-1, string.Empty, string.Empty);
            var deadline = Stopwatch.StartNew();
            while (deadline.Elapsed < TimeSpan.FromSeconds(60) && !process.HasExited)
            {
                health = await TestServer.RunCliAsync(socket, "healthcheck");
                if (health.ExitCode == 0)
                {
                    break;
                }

                await Task.Delay(200);
            }

            Assert.True(health.ExitCode == 0, $"{health.Stderr} {(process.HasExited ? await process.StandardError.ReadToEndAsync() : string.Empty)}");
            List<string> logged;
            lock (lines)
            {
                logged = [.. lines];
            }

            // INFO lines (the start-up line) are there although the file says ERROR: -logLevel DEBUG won; each is JSON.
            Assert.NotEmpty(logged);
            foreach (var line in logged)
            {
                using var json = JsonDocument.Parse(line);
                Assert.True(json.RootElement.TryGetProperty("LogLevel", out _), line);
            }

            Assert.Contains(logged, l => l.Contains("\"LogLevel\":\"Information\"", StringComparison.Ordinal));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().Within();
        }
    }

    private static async Task<CliResult> CliAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await MiniSpireCli.RunAsync(args, stdout, stderr).Within();
        return new CliResult(exit, stdout.ToString(), stderr.ToString());
    }
}
