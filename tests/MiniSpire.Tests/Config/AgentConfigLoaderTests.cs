using Microsoft.Extensions.Logging;
using MiniSpire.Config;

namespace MiniSpire.Tests.Config;

public sealed class AgentConfigLoaderTests
{
    [Fact]
    public void Load_MinimalConfig_AppliesSpireDefaults()
    {
        var options = AgentConfigLoader.Load("""
            [agent]
            trust_domain = "example.org"
            server_address = "spire-server"
            data_dir = "/var/lib/minispire-agent"
            insecure_bootstrap = true
            """);

        Assert.Equal("example.org", options.TrustDomain.Name);
        Assert.Equal(8081, options.ServerPort);
        Assert.Equal("/tmp/spire-agent/public/api.sock", options.SocketPath);
        Assert.Equal("/tmp/spire-agent/private/admin.sock", options.AdminSocketPath);
        Assert.Equal(TimeSpan.FromSeconds(5), options.SyncInterval);
        Assert.Equal(LogLevel.Information, options.LogLevel);
        Assert.False(options.DiscoverWorkloadPath);
        Assert.Null(options.JoinToken);
        Assert.Equal("spiffe://example.org/spire/server", options.ServerId.ToString());
    }

    [Fact]
    public void Load_EveryKey_ReadsSpireNamesAndTheCommandLineTokenWins()
    {
        var bundle = Path.GetTempFileName();
        try
        {
            var options = AgentConfigLoader.Load($"""
                [agent]
                trust_domain = "prod.example"
                server_address = "10.0.0.5"
                server_port = 9081
                socket_path = "/run/spire/agent.sock"
                admin_socket_path = "/run/spire/admin.sock"
                data_dir = "/data"
                trust_bundle_path = "{bundle}"
                join_token = "from-file"
                log_level = "DEBUG"
                discover_workload_path = true
                sync_interval = "1s"
                """, joinTokenOverride: "from-flag");

            Assert.Equal(9081, options.ServerPort);
            Assert.Equal("/run/spire/agent.sock", options.SocketPath);
            Assert.Equal("/run/spire/admin.sock", options.AdminSocketPath);
            Assert.Equal(bundle, options.TrustBundlePath);
            Assert.Equal("from-flag", options.JoinToken);
            Assert.Equal(LogLevel.Debug, options.LogLevel);
            Assert.True(options.DiscoverWorkloadPath);
            Assert.Equal(TimeSpan.FromSeconds(1), options.SyncInterval);
        }
        finally
        {
            File.Delete(bundle);
        }
    }

    [Fact]
    public void Load_ManyProblems_ReportsEveryOneNamingTheKey()
    {
        var error = Assert.Throws<ConfigException>(() => AgentConfigLoader.Load("""
            [agent]
            trust_domain = "Example.org"
            server_port = 70000
            socket_path = "relative.sock"
            data_dir = "/data"
            trust_bundle_path = "/does/not/exist.pem"
            sync_interval = "soon"
            log_level = "LOUD"
            join_tokn = "typo"
            """));

        Assert.Contains(error.Errors, e => e.StartsWith("agent.trust_domain:", StringComparison.Ordinal));
        Assert.Contains("agent.server_address is required", error.Errors);
        Assert.Contains(error.Errors, e => e.StartsWith("agent.server_port:", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("agent.socket_path:", StringComparison.Ordinal) && e.Contains("absolute", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("agent.trust_bundle_path:", StringComparison.Ordinal) && e.Contains("does not exist", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("agent.sync_interval:", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("agent.log_level:", StringComparison.Ordinal));
        Assert.Contains("unknown key \"agent.join_tokn\"", error.Errors);
        Assert.Equal(8, error.Errors.Count);
    }

    [Fact]
    public void Load_BundleAndInsecureBootstrapTogether_IsRefused()
    {
        var error = Assert.Throws<ConfigException>(() => AgentConfigLoader.Load("""
            [agent]
            trust_domain = "example.org"
            server_address = "s"
            data_dir = "/d"
            trust_bundle_path = "/b.pem"
            insecure_bootstrap = true
            """));

        Assert.Contains("cannot both be set", Assert.Single(error.Errors), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NoAgentTable_SaysWhatIsExpected()
    {
        var error = Assert.Throws<ConfigException>(() => AgentConfigLoader.Load("""
            [server]
            trust_domain = "example.org"
            """));

        Assert.Contains("missing [agent] table", error.Errors);
        Assert.Contains("unknown key \"server\" (expected an [agent] table)", error.Errors);
    }

    [Fact]
    public async Task AgentRun_ConfigWithErrors_ExitsNonZeroListingEveryError()
    {
        var path = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(path, "[agent]\nbogus = 1\n");
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();

            var exit = await MiniSpire.Cli.MiniSpireCli.RunAsync(["agent", "run", "-config", path], stdout, stderr);

            Assert.Equal(MiniSpire.Cli.ExitCodes.UsageOrConfig, exit);
            Assert.Contains("unknown key \"agent.bogus\"", stderr.ToString(), StringComparison.Ordinal);
            Assert.Contains("agent.trust_domain is required", stderr.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
