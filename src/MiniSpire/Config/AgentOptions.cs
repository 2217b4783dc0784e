using Microsoft.Extensions.Logging;
using Spiffe;

namespace MiniSpire.Config;

/// <summary>The validated agent configuration (SPIRE's key names in an <c>[agent]</c> table).</summary>
internal sealed record AgentOptions
{
    public const string DefaultSocketPath = "/tmp/spire-agent/public/api.sock";
    public const int DefaultServerPort = 8081;
    public const string DefaultAdminSocketPath = "/tmp/spire-agent/private/admin.sock";

    public required TrustDomain TrustDomain { get; init; }

    public required string ServerAddress { get; init; }

    public int ServerPort { get; init; } = DefaultServerPort;

    public string SocketPath { get; init; } = DefaultSocketPath;

    /// <summary>The local admin socket (<c>minispire agent attest</c>), owner-only.</summary>
    public string AdminSocketPath { get; init; } = DefaultAdminSocketPath;

    public required string DataDir { get; init; }

    /// <summary>The bootstrap bundle (PEM) used to authenticate the server before the agent has one of its own.</summary>
    public string? TrustBundlePath { get; init; }

    /// <summary>Trust the server without a bootstrap bundle on first attestation (development only, as SPIRE).</summary>
    public bool InsecureBootstrap { get; init; }

    public string? JoinToken { get; init; }

    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    /// <summary><c>log_format = "json"</c>: one JSON object a line, as SPIRE's <c>-logFormat json</c>.</summary>
    public bool JsonLogs { get; init; }

    public bool DiscoverWorkloadPath { get; init; }

    public TimeSpan SyncInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The Prometheus metrics listener (<c>[agent.telemetry.prometheus]</c>); null when not configured.</summary>
    public Telemetry.PrometheusOptions? Prometheus { get; init; }

    /// <summary>The server's SPIFFE ID the agent expects on its TLS certificate.</summary>
    public SpiffeId ServerId => SpiffeId.FromSegments(TrustDomain, "spire", "server");
}
