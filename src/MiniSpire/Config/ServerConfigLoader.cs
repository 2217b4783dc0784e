using Microsoft.Extensions.Logging;
using Spiffe;
using Tomlyn;
using Tomlyn.Model;

namespace MiniSpire.Config;

/// <summary>Reads <c>server.toml</c> and validates it, reporting every error at once.</summary>
internal static class ServerConfigLoader
{
    private static readonly string[] ServerKeys =
    [
        "trust_domain", "bind_address", "bind_port", "socket_path", "data_dir", "log_level", "ca_ttl",
        "default_x509_svid_ttl", "default_jwt_svid_ttl", "jwt_issuer", "upstream_authority", "telemetry", "log_format",
    ];

    private static readonly string[] UpstreamKeys = ["cert_file_path", "key_file_path"];

    public static ServerOptions LoadFile(string path, IReadOnlyDictionary<string, object>? overrides = null)
    {
        var text = TomlValues.ReadFile(path);
        return Load(text, overrides);
    }

    /// <param name="toml">The file's text.</param>
    /// <param name="overrides">Keys of <c>[server]</c> set on the command line (<c>server run -logLevel</c>), which win.</param>
    public static ServerOptions Load(string toml, IReadOnlyDictionary<string, object>? overrides = null)
    {
        var errors = new List<string>();
        var server = TomlValues.ReadSection(toml, "server", ServerKeys, errors, overrides);

        TrustDomain? trustDomain = null;
        var trustDomainText = GetString(server, "trust_domain", errors);
        if (trustDomainText is null)
        {
            errors.Add("server.trust_domain is required");
        }
        else if (!TrustDomain.TryParse(trustDomainText, out trustDomain, out var tdError))
        {
            errors.Add($"server.trust_domain: {tdError}");
        }

        var dataDir = GetString(server, "data_dir", errors);
        if (string.IsNullOrWhiteSpace(dataDir))
        {
            errors.Add("server.data_dir is required");
        }

        var bindAddress = GetString(server, "bind_address", errors) ?? ServerOptions.DefaultBindAddress;
        if (!System.Net.IPAddress.TryParse(bindAddress, out _))
        {
            errors.Add($"server.bind_address: \"{bindAddress}\" is not an IP address");
        }

        var bindPort = ServerOptions.DefaultBindPort;
        if (server.TryGetValue("bind_port", out var portValue))
        {
            if (portValue is long port and >= 1 and <= 65535)
            {
                bindPort = (int)port;
            }
            else
            {
                errors.Add($"server.bind_port: must be an integer from 1 to 65535, got {Describe(portValue)}");
            }
        }

        var socketPath = GetString(server, "socket_path", errors) ?? ServerOptions.DefaultSocketPath;
        if (!Path.IsPathFullyQualified(socketPath))
        {
            errors.Add($"server.socket_path: \"{socketPath}\" must be an absolute path");
        }
        else if (System.Text.Encoding.UTF8.GetByteCount(socketPath) > 107)
        {
            errors.Add($"server.socket_path: \"{socketPath}\" is longer than a Unix socket path may be (107 bytes)");
        }

        var logLevel = TomlValues.GetLogLevel(server, "server.", errors);
        var jsonLogs = TomlValues.GetJsonLogFormat(server, "server.", errors);

        var caTtl = GetDuration(server, "ca_ttl", TimeSpan.FromHours(24), errors);
        var x509Ttl = GetDuration(server, "default_x509_svid_ttl", TimeSpan.FromHours(1), errors);
        var jwtTtl = GetDuration(server, "default_jwt_svid_ttl", TimeSpan.FromMinutes(5), errors);
        var jwtIssuer = GetString(server, "jwt_issuer", errors);
        if (jwtIssuer is not null && !Uri.TryCreate(jwtIssuer, UriKind.Absolute, out _))
        {
            errors.Add($"server.jwt_issuer: \"{jwtIssuer}\" is not an absolute URL");
        }

        UpstreamAuthorityOptions? upstream = null;
        if (server.TryGetValue("upstream_authority", out var upstreamValue))
        {
            if (upstreamValue is not TomlTable upstreamTable)
            {
                errors.Add("server.upstream_authority must be a table");
            }
            else
            {
                foreach (var key in upstreamTable.Keys.Where(k => !UpstreamKeys.Contains(k)))
                {
                    errors.Add($"unknown key \"server.upstream_authority.{key}\"");
                }

                var certPath = GetString(upstreamTable, "cert_file_path", errors, "server.upstream_authority.");
                var keyPath = GetString(upstreamTable, "key_file_path", errors, "server.upstream_authority.");
                if (certPath is null)
                {
                    errors.Add("server.upstream_authority.cert_file_path is required");
                }
                else if (!File.Exists(certPath))
                {
                    errors.Add($"server.upstream_authority.cert_file_path: \"{certPath}\" does not exist");
                }

                if (keyPath is null)
                {
                    errors.Add("server.upstream_authority.key_file_path is required");
                }
                else if (!File.Exists(keyPath))
                {
                    errors.Add($"server.upstream_authority.key_file_path: \"{keyPath}\" does not exist");
                }

                if (certPath is not null && keyPath is not null)
                {
                    upstream = new UpstreamAuthorityOptions(Path.GetFullPath(certPath), Path.GetFullPath(keyPath));
                }
            }
        }

        var prometheus = Telemetry.PrometheusOptions.Read(server, "server.", errors);
        if (prometheus is not null && prometheus.Port == bindPort)
        {
            errors.Add($"server.telemetry.prometheus.port: {prometheus.Port} is already server.bind_port; use another port");
        }

        if (errors.Count > 0 || trustDomain is null || dataDir is null)
        {
            throw new ConfigException(errors);
        }

        return new ServerOptions
        {
            TrustDomain = trustDomain,
            BindAddress = bindAddress,
            BindPort = bindPort,
            SocketPath = socketPath,
            DataDir = Path.GetFullPath(dataDir),
            LogLevel = logLevel,
            JsonLogs = jsonLogs,
            CaTtl = caTtl,
            DefaultX509SvidTtl = x509Ttl,
            DefaultJwtSvidTtl = jwtTtl,
            JwtIssuer = jwtIssuer,
            UpstreamAuthority = upstream,
            Prometheus = prometheus,
        };
    }

    private static string? GetString(TomlTable table, string key, List<string> errors, string prefix = "server.") =>
        TomlValues.GetString(table, prefix, key, errors);

    private static TimeSpan GetDuration(TomlTable table, string key, TimeSpan defaultValue, List<string> errors) =>
        TomlValues.GetDuration(table, "server.", key, defaultValue, errors);

    private static string Describe(object? value) => TomlValues.Describe(value);
}

/// <summary>Every problem found in a configuration.</summary>
internal sealed class ConfigException : Exception
{
    public ConfigException(IReadOnlyList<string> errors)
        : base("invalid configuration:" + string.Concat(errors.Select(e => Environment.NewLine + "  - " + e)))
    {
        Errors = errors;
    }

    public ConfigException()
        : this([])
    {
    }

    public ConfigException(string message)
        : this([message])
    {
    }

    public ConfigException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [message];
    }

    public IReadOnlyList<string> Errors { get; }
}
