namespace SpiffeHelper.Config;

internal static partial class ConfigLoader
{
    private sealed partial class Validator
    {
        private HealthOptions Health(HealthChecksFile? hc)
        {
            var health = HealthOptions.Default;
            if (hc is null)
            {
                return health;
            }

            var livenessPath = Expand("health_checks.liveness_path", hc.LivenessPath).NullIfEmpty();
            var readinessPath = Expand("health_checks.readiness_path", hc.ReadinessPath).NullIfEmpty();
            var metricsPath = Expand("health_checks.metrics_path", hc.MetricsPath);

            // As the Go tool: 0 (or unset) is the default port.
            var port = hc.BindPort is null or 0 ? health.BindPort : hc.BindPort.Value;
            if (port is < 1 or > 65535)
            {
                Error("health_checks.bind_port", $"{port} is not a TCP port; use 1 to 65535");
            }

            foreach (var (key, value) in new[] { ("health_checks.liveness_path", livenessPath), ("health_checks.readiness_path", readinessPath) })
            {
                if (value is not null && !value.StartsWith('/'))
                {
                    Error(key, $"\"{value}\" must be an absolute URL path starting with \"/\"");
                }
            }

            if (metricsPath is { Length: > 0 } && !metricsPath.StartsWith('/'))
            {
                Error("health_checks.metrics_path", $"\"{metricsPath}\" must be an absolute URL path starting with \"/\", or \"\" to serve no metrics");
            }

            System.Net.IPAddress? bindAddress = null;
            if (hc.BindAddress.NullIfEmpty() is { } address && !System.Net.IPAddress.TryParse(address, out bindAddress))
            {
                Error("health_checks.bind_address", $"\"{address}\" is not an IP address; use 127.0.0.1 or ::1 to listen on loopback only, or leave it out to listen on every interface (IPv4 and IPv6) as the Go tool");
            }

            health = new HealthOptions(hc.ListenerEnabled ?? false, (int)Math.Clamp(port, 1, 65535), livenessPath ?? health.LivenessPath, readinessPath ?? health.ReadinessPath, metricsPath ?? health.MetricsPath) { BindAddress = bindAddress };
            if (health.LivenessPath == health.ReadinessPath)
            {
                Error("health_checks.readiness_path", "must differ from liveness_path");
            }

            if (health.MetricsPath == health.LivenessPath || health.MetricsPath == health.ReadinessPath)
            {
                Error("health_checks.metrics_path", "must differ from liveness_path and readiness_path");
            }

            return health;
        }
    }
}
