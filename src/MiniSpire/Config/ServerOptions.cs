using Microsoft.Extensions.Logging;
using Spiffe;

namespace MiniSpire.Config;

/// <summary>The validated server configuration: what the rest of the server receives (nothing downstream reads TOML).</summary>
internal sealed record ServerOptions
{
    public const string DefaultBindAddress = "0.0.0.0";
    public const int DefaultBindPort = 8081;
    public const string DefaultSocketPath = "/tmp/spire-server/private/api.sock";

    public required TrustDomain TrustDomain { get; init; }

    public string BindAddress { get; init; } = DefaultBindAddress;

    public int BindPort { get; init; } = DefaultBindPort;

    public string SocketPath { get; init; } = DefaultSocketPath;

    public required string DataDir { get; init; }

    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary><c>log_format = "json"</c>: one JSON object a line, as SPIRE's <c>-logFormat json</c>.</summary>
    public bool JsonLogs { get; init; }

    public TimeSpan CaTtl { get; init; } = TimeSpan.FromHours(24);

    public TimeSpan DefaultX509SvidTtl { get; init; } = TimeSpan.FromHours(1);

    public TimeSpan DefaultJwtSvidTtl { get; init; } = TimeSpan.FromMinutes(5);

    public string? JwtIssuer { get; init; }

    public UpstreamAuthorityOptions? UpstreamAuthority { get; init; }

    /// <summary>The Prometheus metrics listener (<c>[server.telemetry.prometheus]</c>); null when not configured.</summary>
    public Telemetry.PrometheusOptions? Prometheus { get; init; }

    /// <summary>The server's own SPIFFE ID, <c>spiffe://&lt;td&gt;/spire/server</c>.</summary>
    public SpiffeId ServerId => SpiffeId.FromSegments(TrustDomain, "spire", "server");
}

/// <summary>SPIRE's "disk" upstream authority: the signing CA becomes an intermediate under this CA.</summary>
internal sealed record UpstreamAuthorityOptions(string CertFilePath, string KeyFilePath);
