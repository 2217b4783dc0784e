using MiniSpire.Config;
using Tomlyn.Model;

namespace MiniSpire.Telemetry;

/// <summary>Where the Prometheus metrics listener binds (plain HTTP, <c>GET /metrics</c>).</summary>
internal sealed record PrometheusOptions(string Host, int Port)
{
    public const string DefaultHost = "127.0.0.1";

    /// <summary>
    /// Reads the optional <c>telemetry</c> table of <c>[server]</c> or <c>[agent]</c>, SPIRE's
    /// <c>telemetry { Prometheus { host, port } }</c> in TOML: <c>[server.telemetry.prometheus]</c> with
    /// <c>port</c> (required there) and <c>host</c> (an IP address, default 127.0.0.1). Absent: no listener.
    /// </summary>
    public static PrometheusOptions? Read(TomlTable section, string prefix, List<string> errors)
    {
        if (!section.TryGetValue("telemetry", out var telemetryValue))
        {
            return null;
        }

        if (telemetryValue is not TomlTable telemetry)
        {
            errors.Add($"{prefix}telemetry must be a table ([{prefix}telemetry.prometheus])");
            return null;
        }

        foreach (var key in telemetry.Keys.Where(k => k != "prometheus"))
        {
            errors.Add($"unknown key \"{prefix}telemetry.{key}\" (valid: prometheus)");
        }

        if (!telemetry.TryGetValue("prometheus", out var prometheusValue))
        {
            return null;
        }

        var table = $"{prefix}telemetry.prometheus";
        if (prometheusValue is not TomlTable prometheus)
        {
            errors.Add($"{table} must be a table ([{table}] with port and host)");
            return null;
        }

        foreach (var key in prometheus.Keys.Where(k => k is not ("host" or "port")))
        {
            errors.Add($"unknown key \"{table}.{key}\" (valid: host, port)");
        }

        var host = TomlValues.GetString(prometheus, table + ".", "host", errors) ?? DefaultHost;
        if (!System.Net.IPAddress.TryParse(host, out _))
        {
            errors.Add($"{table}.host: \"{host}\" is not an IP address (use 127.0.0.1, or 0.0.0.0 for every interface)");
        }

        if (!prometheus.ContainsKey("port"))
        {
            errors.Add($"{table}.port is required (the port Prometheus scrapes, 1 to 65535)");
            return null;
        }

        var port = TomlValues.GetPort(prometheus, table + ".", "port", 0, errors);
        return new PrometheusOptions(host, port);
    }
}
