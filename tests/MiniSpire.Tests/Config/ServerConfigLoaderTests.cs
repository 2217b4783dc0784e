using Microsoft.Extensions.Logging;
using MiniSpire.Config;

namespace MiniSpire.Tests.Config;

public sealed class ServerConfigLoaderTests
{
    [Fact]
    public void Load_MinimalConfig_AppliesSpireDefaults()
    {
        var options = ServerConfigLoader.Load("""
            [server]
            trust_domain = "example.org"
            data_dir = "/var/lib/minispire"
            """);

        Assert.Equal("example.org", options.TrustDomain.Name);
        Assert.Equal("0.0.0.0", options.BindAddress);
        Assert.Equal(8081, options.BindPort);
        Assert.Equal("/tmp/spire-server/private/api.sock", options.SocketPath);
        Assert.Equal(TimeSpan.FromHours(24), options.CaTtl);
        Assert.Equal(TimeSpan.FromHours(1), options.DefaultX509SvidTtl);
        Assert.Equal(TimeSpan.FromMinutes(5), options.DefaultJwtSvidTtl);
        Assert.Equal(LogLevel.Information, options.LogLevel);
        Assert.Null(options.UpstreamAuthority);
        Assert.Equal("spiffe://example.org/spire/server", options.ServerId.ToString());
    }

    [Fact]
    public void Load_EveryKey_ReadsSpireNames()
    {
        var options = ServerConfigLoader.Load("""
            [server]
            trust_domain = "prod.example"
            bind_address = "127.0.0.1"
            bind_port = 9081
            socket_path = "/run/ms/api.sock"
            data_dir = "/data"
            log_level = "DEBUG"
            ca_ttl = "48h"
            default_x509_svid_ttl = "90s"
            default_jwt_svid_ttl = "2m"
            jwt_issuer = "https://oidc.prod.example"
            """);

        Assert.Equal("127.0.0.1", options.BindAddress);
        Assert.Equal(9081, options.BindPort);
        Assert.Equal("/run/ms/api.sock", options.SocketPath);
        Assert.Equal(LogLevel.Debug, options.LogLevel);
        Assert.Equal(TimeSpan.FromHours(48), options.CaTtl);
        Assert.Equal(TimeSpan.FromSeconds(90), options.DefaultX509SvidTtl);
        Assert.Equal(TimeSpan.FromMinutes(2), options.DefaultJwtSvidTtl);
        Assert.Equal("https://oidc.prod.example", options.JwtIssuer);
    }

    [Fact]
    public void Load_UnknownKeys_NamesEachKey()
    {
        var error = Assert.Throws<ConfigException>(() => ServerConfigLoader.Load("""
            [server]
            trust_domain = "example.org"
            data_dir = "/data"
            bind_prot = 8081
            [server.upstream_authority]
            cert_file_path = "/nonexistent/ca.pem"
            key_file_path = "/nonexistent/ca.key"
            bundle_file = "x"
            """));

        Assert.Contains(error.Errors, e => e.Contains("unknown key \"server.bind_prot\"", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.Contains("unknown key \"server.upstream_authority.bundle_file\"", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_SeveralProblems_ReportsAllAtOnce()
    {
        var error = Assert.Throws<ConfigException>(() => ServerConfigLoader.Load("""
            [server]
            trust_domain = "Example.org"
            bind_port = 70000
            log_level = "LOUD"
            ca_ttl = "1d"
            default_x509_svid_ttl = "-5m"
            socket_path = "relative.sock"
            """));

        Assert.Contains(error.Errors, e => e.StartsWith("server.trust_domain:", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e == "server.data_dir is required");
        Assert.Contains(error.Errors, e => e.StartsWith("server.bind_port:", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("server.log_level:", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("server.ca_ttl:", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("server.default_x509_svid_ttl:", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("server.socket_path:", StringComparison.Ordinal));
        Assert.Equal(7, error.Errors.Count);
    }

    [Fact]
    public async Task ServerRun_ConfigWithErrors_ExitsNonZeroListingEveryError()
    {
        var path = Path.Combine(Path.GetTempPath(), $"ms-bad-{Guid.NewGuid():N}.toml");
        await File.WriteAllTextAsync(path, "[server]\ntrust_domain = \"example.org\"\nbind_adress = \"0.0.0.0\"\nca_ttl = \"1 day\"\n");
        try
        {
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();

            var exit = await MiniSpire.Cli.MiniSpireCli.RunAsync(["server", "run", "-config", path], stdout, stderr).WaitAsync(TimeSpan.FromSeconds(30));

            Assert.Equal(MiniSpire.Cli.ExitCodes.UsageOrConfig, exit);
            Assert.Contains("unknown key \"server.bind_adress\"", stderr.ToString(), StringComparison.Ordinal);
            Assert.Contains("server.ca_ttl:", stderr.ToString(), StringComparison.Ordinal);
            Assert.Contains("server.data_dir is required", stderr.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_NotToml_ReportsSyntaxError()
    {
        var error = Assert.Throws<ConfigException>(() => ServerConfigLoader.Load("[server\ntrust_domain = "));

        Assert.Contains("not valid TOML", error.Message, StringComparison.Ordinal);
    }
}
