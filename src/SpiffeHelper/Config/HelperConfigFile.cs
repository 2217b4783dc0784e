namespace SpiffeHelper.Config;

/// <summary>
/// The config file as written (TOML or HCL, read by <see cref="ConfigSchema"/>): every key optional, names
/// exactly the Go spiffe-helper's. Only the config loader reads it; the rest of the program receives
/// <see cref="HelperOptions"/>.
/// </summary>
internal sealed class HelperConfigFile
{
    public string? AgentAddress { get; set; }

    public string? Cmd { get; set; }

    public string? CmdArgs { get; set; }

    public string? CmdRestartPolicy { get; set; }

    public string? CmdStopTimeout { get; set; }

    public string? PidFileName { get; set; }

    public string? CertDir { get; set; }

    public string? RenewSignal { get; set; }

    public string? SvidFileName { get; set; }

    public string? SvidKeyFileName { get; set; }

    public string? SvidBundleFileName { get; set; }

    public bool? AddIntermediatesToBundle { get; set; }

    public bool? IncludeFederatedDomains { get; set; }

    public bool? OmitExpired { get; set; }

    public FileModeText? CertFileMode { get; set; }

    public FileModeText? KeyFileMode { get; set; }

    public string? Hint { get; set; }

    public bool? DaemonMode { get; set; }

    public string? OneShotTimeout { get; set; }

    public string? WriteStrategy { get; set; }

    public string? LogLevel { get; set; }

    public string? LogFormat { get; set; }

    public HealthChecksFile? HealthChecks { get; set; }

    public string? SvidCombinedFileName { get; set; }

    public string? TrustBundlesDirName { get; set; }

    public string? Pkcs12KeystoreFileName { get; set; }

    public string? Pkcs12TruststoreFileName { get; set; }

    public string? Pkcs12Password { get; set; }

    public string? Pkcs12PasswordFile { get; set; }

    public List<JwtSvidFile>? JwtSvids { get; set; }

    public FileModeText? JwtSvidFileMode { get; set; }

    public string? JwtBundleFileName { get; set; }

    public FileModeText? JwtBundleFileMode { get; set; }

    public string? JwtBundleFormat { get; set; }

    public bool? SignalOnJwtUpdate { get; set; }
}

/// <summary>One item of <c>jwt_svids</c>.</summary>
internal sealed class JwtSvidFile
{
    public string? JwtAudience { get; set; }

    public List<string>? JwtExtraAudiences { get; set; }

    public string? JwtSvidFileName { get; set; }
}

/// <summary>The <c>health_checks</c> block (<c>[health_checks]</c> in TOML).</summary>
internal sealed class HealthChecksFile
{
    public bool? ListenerEnabled { get; set; }

    public long? BindPort { get; set; }

    public string? BindAddress { get; set; }

    public string? LivenessPath { get; set; }

    public string? ReadinessPath { get; set; }

    public string? MetricsPath { get; set; }
}

/// <summary>
/// A file mode as written: the text of an integer (<c>0o644</c>, <c>0644</c>, <c>420</c>) with its value, or a
/// string (<c>"0644"</c>), and the syntax it came from: TOML reads a string as octal digits, HCL reads both as
/// the Go tool does (Go's <c>strconv.ParseInt(s, 0, 64)</c>: <c>0644</c> octal, <c>420</c> decimal).
/// </summary>
internal sealed record FileModeText(string Written, long? Value, bool FromInteger, ConfigSyntax Syntax);
