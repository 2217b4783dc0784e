using Microsoft.Extensions.Logging;
using Spiffe.WorkloadApi;

namespace SpiffeHelper.Config;

/// <summary>How a new set of files replaces the previous one.</summary>
internal enum WriteStrategy
{
    /// <summary>The Kubernetes AtomicWriter layout: a new directory, a <c>..data</c> symlink swapped by rename; one rename switches every file.</summary>
    AtomicDir,

    /// <summary>Each file through temp file, fsync and rename; regular files, switched one after the other.</summary>
    Rename,
}

/// <summary>What to do when <c>cmd</c> exits on its own.</summary>
internal enum RestartPolicy
{
    /// <summary>Start it again at the next renewal, as the Go tool does.</summary>
    OnRenewal,

    /// <summary>Never start it again.</summary>
    Never,

    /// <summary>Start it again at once (with backoff) when it exits with a non-zero code or a signal.</summary>
    OnFailure,

    /// <summary>Start it again at once (with backoff) whatever its exit code.</summary>
    Always,
}

internal enum LogFormat
{
    Text,
    Json,
}

/// <summary>The X.509 output: three file names in <see cref="HelperOptions.CertDir"/> and how to fill them.</summary>
internal sealed record X509OutputOptions(
    string SvidFileName,
    string KeyFileName,
    string BundleFileName,
    bool AddIntermediatesToBundle,
    bool IncludeFederatedDomains);

/// <summary>The health listener, off unless enabled; it also serves Prometheus metrics at <see cref="MetricsPath"/> unless that is empty.</summary>
internal sealed record HealthOptions(bool Enabled, int BindPort, string LivenessPath, string ReadinessPath, string MetricsPath = "/metrics")
{
    public static HealthOptions Default { get; } = new(false, 8081, "/live", "/ready");
}

/// <summary>The renewal signal, by name and number.</summary>
internal sealed record RenewSignal(string Name, int Number);

/// <summary>The validated, immutable configuration every component receives.</summary>
internal sealed record HelperOptions
{
    public required string ConfigFile { get; init; }

    public required WorkloadApiAddress AgentAddress { get; init; }

    public string? Cmd { get; init; }

    public IReadOnlyList<string> CmdArgs { get; init; } = [];

    public RestartPolicy CmdRestartPolicy { get; init; } = RestartPolicy.OnRenewal;

    public TimeSpan CmdStopTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public string? PidFileName { get; init; }

    public required string CertDir { get; init; }

    public RenewSignal? RenewSignal { get; init; }

    public required X509OutputOptions X509 { get; init; }

    public bool OmitExpired { get; init; }

    public UnixFileMode CertFileMode { get; init; } = (UnixFileMode)Convert.ToInt32("644", 8);

    public UnixFileMode KeyFileMode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public string Hint { get; init; } = string.Empty;

    public bool DaemonMode { get; init; } = true;

    public TimeSpan OneShotTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public WriteStrategy WriteStrategy { get; init; } = WriteStrategy.AtomicDir;

    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    public LogFormat LogFormat { get; init; } = LogFormat.Text;

    public HealthOptions Health { get; init; } = HealthOptions.Default;
}
