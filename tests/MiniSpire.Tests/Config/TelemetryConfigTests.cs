using MiniSpire.Config;
using MiniSpire.Telemetry;

namespace MiniSpire.Tests.Config;

public sealed class TelemetryConfigTests
{
    [Fact]
    public void Load_NoTelemetry_ServesNoMetrics()
    {
        var options = ServerConfigLoader.Load("""
            [server]
            trust_domain = "example.org"
            data_dir = "/data"
            """);

        Assert.Null(options.Prometheus);
    }

    [Fact]
    public void Load_PrometheusTable_ServerAndAgent_ReadHostAndPort()
    {
        var server = ServerConfigLoader.Load("""
            [server]
            trust_domain = "example.org"
            data_dir = "/data"
            [server.telemetry.prometheus]
            port = 9988
            """);
        var agent = AgentConfigLoader.Load("""
            [agent]
            trust_domain = "example.org"
            server_address = "127.0.0.1"
            data_dir = "/data"
            insecure_bootstrap = true
            [agent.telemetry.prometheus]
            host = "0.0.0.0"
            port = 9989
            """);

        Assert.Equal(new PrometheusOptions("127.0.0.1", 9988), server.Prometheus);
        Assert.Equal(new PrometheusOptions("0.0.0.0", 9989), agent.Prometheus);
    }

    [Fact]
    public void Load_BadPrometheusTable_NamesEveryProblem()
    {
        var error = Assert.Throws<ConfigException>(() => ServerConfigLoader.Load("""
            [server]
            trust_domain = "example.org"
            data_dir = "/data"
            [server.telemetry]
            statsd = "x"
            [server.telemetry.prometheus]
            host = "localhost"
            prot = 9988
            """));

        Assert.Contains(error.Errors, e => e.Contains("unknown key \"server.telemetry.statsd\"", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.Contains("unknown key \"server.telemetry.prometheus.prot\" (valid: host, port)", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("server.telemetry.prometheus.host: \"localhost\" is not an IP address", StringComparison.Ordinal));
        Assert.Contains(error.Errors, e => e.StartsWith("server.telemetry.prometheus.port is required", StringComparison.Ordinal));
    }

    [Fact]
    public void Load_PrometheusPortIsTheAgentApiPort_IsRefused()
    {
        var error = Assert.Throws<ConfigException>(() => ServerConfigLoader.Load("""
            [server]
            trust_domain = "example.org"
            data_dir = "/data"
            bind_port = 8081
            [server.telemetry.prometheus]
            port = 8081
            """));

        Assert.Contains(error.Errors, e => e.StartsWith("server.telemetry.prometheus.port: 8081 is already server.bind_port", StringComparison.Ordinal));
    }
}
