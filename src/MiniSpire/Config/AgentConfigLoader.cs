using Spiffe;

namespace MiniSpire.Config;

/// <summary>Reads <c>agent.toml</c> and validates it, reporting every error at once.</summary>
internal static class AgentConfigLoader
{
    private const string Prefix = "agent.";

    private static readonly string[] AgentKeys =
    [
        "trust_domain", "server_address", "server_port", "socket_path", "admin_socket_path", "data_dir",
        "trust_bundle_path", "insecure_bootstrap", "join_token", "log_level", "discover_workload_path", "sync_interval",
        "telemetry", "log_format",
    ];

    public static AgentOptions LoadFile(string path, string? joinTokenOverride = null, IReadOnlyDictionary<string, object>? overrides = null)
    {
        var text = TomlValues.ReadFile(path);
        return Load(text, joinTokenOverride, overrides);
    }

    /// <param name="toml">The file's text.</param>
    /// <param name="joinTokenOverride">A join token given on the command line.</param>
    /// <param name="overrides">Keys of <c>[agent]</c> set on the command line (<c>agent run -logLevel</c>), which win.</param>
    public static AgentOptions Load(string toml, string? joinTokenOverride = null, IReadOnlyDictionary<string, object>? overrides = null)
    {
        var errors = new List<string>();
        var agent = TomlValues.ReadSection(toml, "agent", AgentKeys, errors, overrides);

        TrustDomain? trustDomain = null;
        var trustDomainText = TomlValues.GetString(agent, Prefix, "trust_domain", errors);
        if (trustDomainText is null)
        {
            errors.Add("agent.trust_domain is required");
        }
        else if (!TrustDomain.TryParse(trustDomainText, out trustDomain, out var tdError))
        {
            errors.Add($"agent.trust_domain: {tdError}");
        }

        var serverAddress = TomlValues.GetString(agent, Prefix, "server_address", errors);
        if (string.IsNullOrWhiteSpace(serverAddress))
        {
            errors.Add("agent.server_address is required");
        }

        var dataDir = TomlValues.GetString(agent, Prefix, "data_dir", errors);
        if (string.IsNullOrWhiteSpace(dataDir))
        {
            errors.Add("agent.data_dir is required");
        }

        var socketPath = CheckSocketPath(TomlValues.GetString(agent, Prefix, "socket_path", errors) ?? AgentOptions.DefaultSocketPath, "socket_path", errors);
        var adminSocketPath = CheckSocketPath(TomlValues.GetString(agent, Prefix, "admin_socket_path", errors) ?? AgentOptions.DefaultAdminSocketPath, "admin_socket_path", errors);

        var trustBundlePath = TomlValues.GetString(agent, Prefix, "trust_bundle_path", errors);
        var insecureBootstrap = TomlValues.GetBool(agent, Prefix, "insecure_bootstrap", false, errors);
        if (trustBundlePath is not null && insecureBootstrap)
        {
            errors.Add("agent.trust_bundle_path and agent.insecure_bootstrap cannot both be set");
        }
        else if (trustBundlePath is not null && !File.Exists(trustBundlePath))
        {
            errors.Add($"agent.trust_bundle_path: \"{trustBundlePath}\" does not exist (create the bootstrap bundle first, e.g. with `minispire server bundle show > {trustBundlePath}`)");
        }

        var joinToken = joinTokenOverride ?? TomlValues.GetString(agent, Prefix, "join_token", errors);
        var logLevel = TomlValues.GetLogLevel(agent, Prefix, errors);
        var jsonLogs = TomlValues.GetJsonLogFormat(agent, Prefix, errors);
        var discoverPath = TomlValues.GetBool(agent, Prefix, "discover_workload_path", false, errors);
        var syncInterval = TomlValues.GetDuration(agent, Prefix, "sync_interval", TimeSpan.FromSeconds(5), errors);
        var serverPort = TomlValues.GetPort(agent, Prefix, "server_port", AgentOptions.DefaultServerPort, errors);
        var prometheus = Telemetry.PrometheusOptions.Read(agent, Prefix, errors);

        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }

        return new AgentOptions
        {
            TrustDomain = trustDomain!,
            ServerAddress = serverAddress!,
            ServerPort = serverPort,
            SocketPath = socketPath,
            AdminSocketPath = adminSocketPath,
            DataDir = dataDir!,
            TrustBundlePath = trustBundlePath,
            InsecureBootstrap = insecureBootstrap,
            JoinToken = string.IsNullOrEmpty(joinToken) ? null : joinToken,
            LogLevel = logLevel,
            JsonLogs = jsonLogs,
            DiscoverWorkloadPath = discoverPath,
            SyncInterval = syncInterval,
            Prometheus = prometheus,
        };
    }

    private static string CheckSocketPath(string path, string key, List<string> errors)
    {
        if (!Path.IsPathFullyQualified(path))
        {
            errors.Add($"{Prefix}{key}: \"{path}\" must be an absolute path");
        }
        else if (System.Text.Encoding.UTF8.GetByteCount(path) > 107)
        {
            errors.Add($"{Prefix}{key}: \"{path}\" is longer than a Unix socket path may be (107 bytes)");
        }

        return path;
    }
}
