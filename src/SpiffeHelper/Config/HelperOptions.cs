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
    bool IncludeFederatedDomains)
{
    /// <summary>One file with the private key first, then the chain (key_file_mode); null when off.</summary>
    public string? CombinedFileName { get; init; }

    /// <summary>A folder inside cert_dir with one PEM file per trust domain, <c>&lt;trust domain&gt;.pem</c>; null when off.</summary>
    public string? TrustBundlesDirName { get; init; }

    /// <summary>PKCS#12 keystore and truststore; null when neither is configured.</summary>
    public Pkcs12Options? Pkcs12 { get; init; }

    /// <summary>Every name this output adds to cert_dir, for health reporting.</summary>
    public IReadOnlyList<string> FileNames =>
    [
        SvidFileName, KeyFileName, BundleFileName,
        .. new[] { CombinedFileName, Pkcs12?.KeystoreFileName, Pkcs12?.TruststoreFileName, TrustBundlesDirName }.OfType<string>(),
    ];
}

/// <summary>
/// PKCS#12 output: a keystore (key and chain, friendly name = SPIFFE ID) and/or a truststore (the bundle's
/// CAs), both protected by one password given either directly or as a file read at every write.
/// The password is never printed: <see cref="object.ToString"/> (and so that of every record holding these options) shows it as <c>***</c>.
/// </summary>
internal sealed record Pkcs12Options(string? KeystoreFileName, string? TruststoreFileName, string? Password, string? PasswordFile)
{
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append("KeystoreFileName = ").Append(KeystoreFileName)
            .Append(", TruststoreFileName = ").Append(TruststoreFileName)
            .Append(", Password = ").Append(Password is null ? "null" : "***")
            .Append(", PasswordFile = ").Append(PasswordFile);
        return true;
    }
}

/// <summary>How the JWT bundle file is laid out.</summary>
internal enum JwtBundleFormat
{
    /// <summary>The Go spiffe-helper's: a JSON object mapping trust domain name to the standard base64 of its JWKS.</summary>
    Go,

    /// <summary>A plain JWKS of the helper's own trust domain, what most JWT libraries read.</summary>
    Jwks,
}

/// <summary>One JWT-SVID output: the audiences it is fetched for and the file it goes to.</summary>
internal sealed record JwtSvidOutput(string Audience, IReadOnlyList<string> ExtraAudiences, string FileName)
{
    /// <summary>The audience first, then the extra audiences.</summary>
    public IReadOnlyList<string> Audiences => [Audience, .. ExtraAudiences];
}

/// <summary>The JWT output: tokens and/or the JWT bundle, each file replaced on its own by rename.</summary>
internal sealed record JwtOutputOptions(
    IReadOnlyList<JwtSvidOutput> Svids,
    string? BundleFileName,
    JwtBundleFormat BundleFormat,
    UnixFileMode SvidFileMode,
    UnixFileMode BundleFileMode,
    bool SignalOnUpdate)
{
    /// <summary>Every name this output adds to cert_dir, for health reporting.</summary>
    public IReadOnlyList<string> FileNames => [.. Svids.Select(s => s.FileName), .. BundleFileName is null ? Array.Empty<string>() : [BundleFileName]];
}

/// <summary>The health listener, off unless enabled; it also serves Prometheus metrics at <see cref="MetricsPath"/> unless that is empty.</summary>
internal sealed record HealthOptions(bool Enabled, int BindPort, string LivenessPath, string ReadinessPath, string MetricsPath = "/metrics")
{
    public static HealthOptions Default { get; } = new(false, 8081, "/live", "/ready");

    /// <summary>health_checks.bind_address: the one address to listen on; null: every interface, IPv4 and IPv6, as the Go tool.</summary>
    public System.Net.IPAddress? BindAddress { get; init; }
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

    /// <summary>The X.509 output; null when only JWT output is configured.</summary>
    public X509OutputOptions? X509 { get; init; }

    /// <summary>The JWT output; null when no JWT key is set.</summary>
    public JwtOutputOptions? Jwt { get; init; }

    public bool OmitExpired { get; init; }

    public UnixFileMode CertFileMode { get; init; } = (UnixFileMode)Convert.ToInt32("644", 8);

    public UnixFileMode KeyFileMode { get; init; } = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public string Hint { get; init; } = string.Empty;

    public bool DaemonMode { get; init; } = true;

    public TimeSpan OneShotTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public WriteStrategy WriteStrategy { get; init; } = WriteStrategy.AtomicDir;

    /// <summary>True when the file sets write_strategy; false when it is the default, which start-up may adapt to cert_dir (see <see cref="WriteStrategyChoice"/>).</summary>
    public bool WriteStrategyIsExplicit { get; init; }

    public LogLevel LogLevel { get; init; } = LogLevel.Information;

    public LogFormat LogFormat { get; init; } = LogFormat.Text;

    public HealthOptions Health { get; init; } = HealthOptions.Default;
}
