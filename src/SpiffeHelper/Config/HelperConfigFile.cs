using Tomlyn.Serialization;

namespace SpiffeHelper.Config;

/// <summary>
/// The TOML file as written: every key optional, names exactly the Go spiffe-helper's. Only
/// <see cref="ConfigLoader"/> reads it; the rest of the program receives <see cref="HelperOptions"/>.
/// </summary>
internal sealed class HelperConfigFile
{
    [TomlPropertyName("agent_address")]
    public string? AgentAddress { get; set; }

    [TomlPropertyName("cmd")]
    public string? Cmd { get; set; }

    [TomlPropertyName("cmd_args")]
    public string? CmdArgs { get; set; }

    [TomlPropertyName("cmd_restart_policy")]
    public string? CmdRestartPolicy { get; set; }

    [TomlPropertyName("cmd_stop_timeout")]
    public string? CmdStopTimeout { get; set; }

    [TomlPropertyName("pid_file_name")]
    public string? PidFileName { get; set; }

    [TomlPropertyName("cert_dir")]
    public string? CertDir { get; set; }

    [TomlPropertyName("renew_signal")]
    public string? RenewSignal { get; set; }

    [TomlPropertyName("svid_file_name")]
    public string? SvidFileName { get; set; }

    [TomlPropertyName("svid_key_file_name")]
    public string? SvidKeyFileName { get; set; }

    [TomlPropertyName("svid_bundle_file_name")]
    public string? SvidBundleFileName { get; set; }

    [TomlPropertyName("add_intermediates_to_bundle")]
    public bool? AddIntermediatesToBundle { get; set; }

    [TomlPropertyName("include_federated_domains")]
    public bool? IncludeFederatedDomains { get; set; }

    [TomlPropertyName("omit_expired")]
    public bool? OmitExpired { get; set; }

    [TomlPropertyName("cert_file_mode")]
    public FileModeText? CertFileMode { get; set; }

    [TomlPropertyName("key_file_mode")]
    public FileModeText? KeyFileMode { get; set; }

    [TomlPropertyName("hint")]
    public string? Hint { get; set; }

    [TomlPropertyName("daemon_mode")]
    public bool? DaemonMode { get; set; }

    [TomlPropertyName("one_shot_timeout")]
    public string? OneShotTimeout { get; set; }

    [TomlPropertyName("write_strategy")]
    public string? WriteStrategy { get; set; }

    [TomlPropertyName("log_level")]
    public string? LogLevel { get; set; }

    [TomlPropertyName("log_format")]
    public string? LogFormat { get; set; }

    [TomlPropertyName("health_checks")]
    public HealthChecksFile? HealthChecks { get; set; }

    [TomlPropertyName("svid_combined_file_name")]
    public string? SvidCombinedFileName { get; set; }

    [TomlPropertyName("trust_bundles_dir_name")]
    public string? TrustBundlesDirName { get; set; }

    [TomlPropertyName("pkcs12_keystore_file_name")]
    public string? Pkcs12KeystoreFileName { get; set; }

    [TomlPropertyName("pkcs12_truststore_file_name")]
    public string? Pkcs12TruststoreFileName { get; set; }

    [TomlPropertyName("pkcs12_password")]
    public string? Pkcs12Password { get; set; }

    [TomlPropertyName("pkcs12_password_file")]
    public string? Pkcs12PasswordFile { get; set; }

    [TomlPropertyName("jwt_svids")]
    public List<JwtSvidFile>? JwtSvids { get; set; }

    [TomlPropertyName("jwt_svid_file_mode")]
    public FileModeText? JwtSvidFileMode { get; set; }

    [TomlPropertyName("jwt_bundle_file_name")]
    public string? JwtBundleFileName { get; set; }

    [TomlPropertyName("jwt_bundle_file_mode")]
    public FileModeText? JwtBundleFileMode { get; set; }

    [TomlPropertyName("jwt_bundle_format")]
    public string? JwtBundleFormat { get; set; }

    [TomlPropertyName("signal_on_jwt_update")]
    public bool? SignalOnJwtUpdate { get; set; }
}

/// <summary>One item of <c>jwt_svids</c>.</summary>
internal sealed class JwtSvidFile
{
    [TomlPropertyName("jwt_audience")]
    public string? JwtAudience { get; set; }

    [TomlPropertyName("jwt_extra_audiences")]
    public List<string>? JwtExtraAudiences { get; set; }

    [TomlPropertyName("jwt_svid_file_name")]
    public string? JwtSvidFileName { get; set; }
}

/// <summary>The <c>[health_checks]</c> table.</summary>
internal sealed class HealthChecksFile
{
    [TomlPropertyName("listener_enabled")]
    public bool? ListenerEnabled { get; set; }

    [TomlPropertyName("bind_port")]
    public long? BindPort { get; set; }

    [TomlPropertyName("bind_address")]
    public string? BindAddress { get; set; }

    [TomlPropertyName("liveness_path")]
    public string? LivenessPath { get; set; }

    [TomlPropertyName("readiness_path")]
    public string? ReadinessPath { get; set; }

    [TomlPropertyName("metrics_path")]
    public string? MetricsPath { get; set; }
}

/// <summary>
/// A file mode as written: a TOML integer (<c>0o644</c>, kept as its octal digits) or a string
/// (<c>"0644"</c>). <see cref="ConfigLoader"/> parses and range-checks it.
/// </summary>
internal sealed record FileModeText(string Octal, bool FromInteger);

/// <summary>Reads <see cref="FileModeText"/> from either an integer or a string, without reflection.</summary>
internal sealed class FileModeTextConverter : TomlConverter<FileModeText>
{
    public override FileModeText? Read(TomlReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        FileModeText value = reader.TokenType == TomlTokenType.Integer
            ? new FileModeText(Convert.ToString(reader.GetInt64(), 8), FromInteger: true)
            : new FileModeText(reader.GetString() ?? string.Empty, FromInteger: false);
        reader.Read();
        return value;
    }

    public override void Write(TomlWriter writer, FileModeText value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(value);
        writer.WriteStringValue(value.Octal);
    }
}

/// <summary>The source-generated TOML metadata: reflection stays off, so Native AOT needs nothing else.</summary>
[TomlSourceGenerationOptions(Converters = [typeof(FileModeTextConverter)])]
[TomlSerializable(typeof(HelperConfigFile))]
internal sealed partial class HelperConfigContext : TomlSerializerContext
{
}
