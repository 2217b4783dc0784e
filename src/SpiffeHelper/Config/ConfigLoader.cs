using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Spiffe.WorkloadApi;
using Tomlyn;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace SpiffeHelper.Config;

/// <summary>One thing wrong with the configuration: where (file, line, key) and why.</summary>
internal sealed record ConfigError(string File, int? Line, string? Key, string Reason)
{
    public override string ToString()
    {
        var where = Line is { } line ? $"{File}:{line}" : File;
        return Key is null ? $"{where}: {Reason}" : $"{where}: key \"{Key}\": {Reason}";
    }
}

/// <summary>The outcome of loading: options, or every error found.</summary>
internal sealed record ConfigLoadResult(HelperOptions? Options, IReadOnlyList<ConfigError> Errors)
{
    public bool Succeeded => Options is not null && Errors.Count == 0;
}

/// <summary>
/// Reads a helper config file: TOML with the Go spiffe-helper's key names. Checks the keys and value
/// types on the syntax tree first (so every unknown key and wrong type is reported with its line),
/// deserializes through the source-generated <see cref="HelperConfigContext"/>, expands <c>${VAR}</c>
/// references and validates the values, collecting every error before returning.
/// </summary>
internal static partial class ConfigLoader
{
    private enum Kind
    {
        String,
        Boolean,
        Integer,
        FileMode,
        Table,
        StringArray,
        TableArray,
    }

    private const string JwtSvidsKey = "jwt_svids";

    private static readonly Dictionary<string, Kind> RootKeys = new(StringComparer.Ordinal)
    {
        ["agent_address"] = Kind.String,
        ["cmd"] = Kind.String,
        ["cmd_args"] = Kind.String,
        ["cmd_restart_policy"] = Kind.String,
        ["cmd_stop_timeout"] = Kind.String,
        ["pid_file_name"] = Kind.String,
        ["cert_dir"] = Kind.String,
        ["renew_signal"] = Kind.String,
        ["svid_file_name"] = Kind.String,
        ["svid_key_file_name"] = Kind.String,
        ["svid_bundle_file_name"] = Kind.String,
        ["add_intermediates_to_bundle"] = Kind.Boolean,
        ["include_federated_domains"] = Kind.Boolean,
        ["omit_expired"] = Kind.Boolean,
        ["cert_file_mode"] = Kind.FileMode,
        ["key_file_mode"] = Kind.FileMode,
        ["hint"] = Kind.String,
        ["daemon_mode"] = Kind.Boolean,
        ["one_shot_timeout"] = Kind.String,
        ["write_strategy"] = Kind.String,
        ["log_level"] = Kind.String,
        ["log_format"] = Kind.String,
        ["health_checks"] = Kind.Table,
        ["svid_combined_file_name"] = Kind.String,
        ["trust_bundles_dir_name"] = Kind.String,
        ["pkcs12_keystore_file_name"] = Kind.String,
        ["pkcs12_truststore_file_name"] = Kind.String,
        ["pkcs12_password"] = Kind.String,
        ["pkcs12_password_file"] = Kind.String,
        [JwtSvidsKey] = Kind.TableArray,
        ["jwt_svid_file_mode"] = Kind.FileMode,
        ["jwt_bundle_file_name"] = Kind.String,
        ["jwt_bundle_file_mode"] = Kind.FileMode,
        ["jwt_bundle_format"] = Kind.String,
        ["signal_on_jwt_update"] = Kind.Boolean,
    };

    private static readonly Dictionary<string, Kind> JwtSvidKeys = new(StringComparer.Ordinal)
    {
        ["jwt_audience"] = Kind.String,
        ["jwt_extra_audiences"] = Kind.StringArray,
        ["jwt_svid_file_name"] = Kind.String,
    };

    private static readonly Dictionary<string, Kind> HealthKeys = new(StringComparer.Ordinal)
    {
        ["listener_enabled"] = Kind.Boolean,
        ["bind_port"] = Kind.Integer,
        ["bind_address"] = Kind.String,
        ["liveness_path"] = Kind.String,
        ["readiness_path"] = Kind.String,
        ["metrics_path"] = Kind.String,
    };

    /// <summary>Loads <paramref name="path"/>; <paramref name="daemonModeOverride"/> comes from the command line.</summary>
    public static ConfigLoadResult Load(string path, Func<string, string?> environment, bool? daemonModeOverride, string workingDirectory)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(new ConfigError(path, null, null, $"cannot read the config file: {e.Message}"));
        }

        return Parse(text, path, environment, daemonModeOverride, workingDirectory);
    }

    /// <summary>Parses config text named <paramref name="file"/> in messages.</summary>
    public static ConfigLoadResult Parse(string text, string file, Func<string, string?> environment, bool? daemonModeOverride, string workingDirectory)
    {
        var errors = new List<ConfigError>();
        var document = SyntaxParser.Parse(text, file, validate: true);
        if (document.HasErrors)
        {
            foreach (var diagnostic in document.Diagnostics)
            {
                if (diagnostic.Kind == DiagnosticMessageKind.Error)
                {
                    errors.Add(new ConfigError(file, diagnostic.Span.Start.Line + 1, null, $"not valid TOML: {diagnostic.Message}"));
                }
            }

            if (LooksLikeHcl(text))
            {
                errors.Add(new ConfigError(file, null, null,
                    "this looks like the Go spiffe-helper's HCL format; convert it to TOML: a block \"health_checks { ... }\" becomes a table \"[health_checks]\" placed after the top-level keys, file modes are written 0o644 or \"0644\" (not 0644), comments start with # (not // or /* */), and every string is double-quoted"));
            }

            return new ConfigLoadResult(null, errors);
        }

        // Keys that are unknown or of the wrong type are reported, then blanked out so that the rest
        // of the file is still deserialized and validated: every error is reported in one run.
        var lines = new Dictionary<string, int>(StringComparer.Ordinal);
        var rejected = new List<SourceSpan>();
        CheckSyntax(document, file, errors, lines, rejected);
        var valid = rejected.Count == 0 ? text : Blank(text, rejected);

        HelperConfigFile model;
        try
        {
            model = TomlSerializer.Deserialize(valid, HelperConfigContext.Default.HelperConfigFile) ?? new HelperConfigFile();
        }
        catch (TomlException e)
        {
            return Fail(new ConfigError(file, e.Line > 0 ? e.Line : null, null, e.Message.Trim()));
        }

        var validator = new Validator(file, lines, environment, errors);
        var options = validator.Build(model, daemonModeOverride, workingDirectory);
        return errors.Count > 0
            ? new ConfigLoadResult(null, [.. errors.OrderBy(e => e.Line ?? int.MaxValue)])
            : new ConfigLoadResult(options, errors);
    }

    private static ConfigLoadResult Fail(ConfigError error) => new(null, [error]);

    private static string Blank(string text, List<SourceSpan> spans)
    {
        var chars = text.ToCharArray();
        foreach (var span in spans)
        {
            var end = Math.Min(chars.Length, span.Offset + span.Length);
            for (var i = Math.Max(0, span.Offset); i < end; i++)
            {
                if (chars[i] is not ('\n' or '\r'))
                {
                    chars[i] = ' ';
                }
            }
        }

        return new string(chars);
    }

    private static bool LooksLikeHcl(string text) => HclBlock().IsMatch(text) || HclComment().IsMatch(text) || LeadingZeroMode().IsMatch(text);

    [GeneratedRegex(@"^\s*[A-Za-z_][A-Za-z0-9_-]*\s*\{", RegexOptions.Multiline)]
    private static partial Regex HclBlock();

    [GeneratedRegex(@"^\s*(//|/\*)", RegexOptions.Multiline)]
    private static partial Regex HclComment();

    [GeneratedRegex(@"_mode\s*=\s*0[0-7]+\s*$", RegexOptions.Multiline)]
    private static partial Regex LeadingZeroMode();

    private static void CheckSyntax(DocumentSyntax document, string file, List<ConfigError> errors, Dictionary<string, int> lines, List<SourceSpan> rejected)
    {
        foreach (var keyValue in document.KeyValues)
        {
            CheckKeyValue(keyValue, [], file, errors, lines, rejected);
        }

        var jwtSvidIndex = 0;
        foreach (var table in document.Tables)
        {
            var line = table.Span.Start.Line + 1;
            var name = table.Name is null ? [] : KeyPath(table.Name);
            var dotted = string.Join('.', name);
            if (table is TableArraySyntax && name is [JwtSvidsKey])
            {
                // [[jwt_svids]] is the TOML spelling of one more item of jwt_svids = [{ ... }].
                var itemName = $"{JwtSvidsKey}[{jwtSvidIndex++}]";
                lines[JwtSvidsKey] = line;
                lines[itemName] = line;
                foreach (var item in table.Items)
                {
                    if (item is KeyValueSyntax keyValue)
                    {
                        CheckKeyValue(keyValue, [itemName], file, errors, lines, rejected);
                    }
                }

                continue;
            }

            if (table is TableArraySyntax)
            {
                errors.Add(new ConfigError(file, line, dotted, "an array of tables ([[...]]) is not a valid setting here"));
                rejected.Add(table.Span);
                continue;
            }

            if (name.Length != 1 || !RootKeys.TryGetValue(name[0], out var kind) || kind != Kind.Table)
            {
                errors.Add(new ConfigError(file, line, dotted, UnknownKeyReason(dotted, RootKeys.Where(k => k.Value == Kind.Table).Select(k => k.Key))));
                rejected.Add(table.Span);
                continue;
            }

            lines[name[0]] = line;
            foreach (var item in table.Items)
            {
                if (item is KeyValueSyntax keyValue)
                {
                    CheckKeyValue(keyValue, name, file, errors, lines, rejected);
                }
            }
        }
    }

    private static void CheckKeyValue(KeyValueSyntax keyValue, string[] tablePath, string file, List<ConfigError> errors, Dictionary<string, int> lines, List<SourceSpan> rejected)
    {
        var line = keyValue.Span.Start.Line + 1;
        string[] path = [.. tablePath, .. keyValue.Key is null ? [] : KeyPath(keyValue.Key)];
        var before = errors.Count;
        CheckValue(path, keyValue.Value, line, file, errors, lines);
        if (errors.Count > before)
        {
            rejected.Add(keyValue.Span);
        }
    }

    private static void CheckValue(string[] path, ValueSyntax? value, int line, string file, List<ConfigError> errors, Dictionary<string, int> lines)
    {
        var dotted = string.Join('.', path);
        Dictionary<string, Kind> keys;
        string key;
        if (path.Length == 1)
        {
            keys = RootKeys;
            key = path[0];
        }
        else if (path.Length == 2 && path[0] == "health_checks")
        {
            keys = HealthKeys;
            key = path[1];
        }
        else if (path.Length == 2 && path[0].StartsWith(JwtSvidsKey + "[", StringComparison.Ordinal))
        {
            keys = JwtSvidKeys;
            key = path[1];
        }
        else
        {
            errors.Add(new ConfigError(file, line, dotted, UnknownKeyReason(dotted, RootKeys.Keys)));
            return;
        }

        if (!keys.TryGetValue(key, out var kind))
        {
            errors.Add(new ConfigError(file, line, dotted, UnknownKeyReason(key, keys.Keys)));
            return;
        }

        lines[dotted] = line;
        var ok = (kind, value) switch
        {
            (Kind.String, StringValueSyntax) => true,
            (Kind.Boolean, BooleanValueSyntax) => true,
            (Kind.Integer, IntegerValueSyntax) => true,
            (Kind.FileMode, IntegerValueSyntax or StringValueSyntax) => true,
            (Kind.Table, InlineTableSyntax) => true,
            (Kind.StringArray, ArraySyntax array) => array.Items.All(i => i.Value is StringValueSyntax),
            (Kind.TableArray, ArraySyntax array) => array.Items.All(i => i.Value is InlineTableSyntax),
            _ => false,
        };

        if (!ok)
        {
            var expected = kind switch
            {
                Kind.String => "a string (in double quotes)",
                Kind.Boolean => "a boolean (true or false, without quotes)",
                Kind.Integer => "an integer",
                Kind.FileMode => "a file mode, written 0o644 or \"0644\"",
                Kind.StringArray => "an array of strings, such as [\"a\", \"b\"]",
                Kind.TableArray => "an array of tables, such as [{ jwt_audience = \"api\", jwt_svid_file_name = \"api.token\" }]",
                _ => "a table ([" + dotted + "])",
            };
            errors.Add(new ConfigError(file, line, dotted, $"must be {expected}, not {Describe(value)}"));
            return;
        }

        if (kind == Kind.TableArray && value is ArraySyntax tables)
        {
            var index = 0;
            foreach (var item in tables.Items)
            {
                var itemName = $"{dotted}[{index++}]";
                var itemLine = item.Span.Start.Line + 1;
                lines[itemName] = itemLine;
                foreach (var inner in ((InlineTableSyntax)item.Value!).Items)
                {
                    if (inner.KeyValue is { } keyValue)
                    {
                        string[] innerPath = [itemName, .. keyValue.Key is null ? [] : KeyPath(keyValue.Key)];
                        CheckValue(innerPath, keyValue.Value, itemLine, file, errors, lines);
                    }
                }
            }

            return;
        }

        if (value is InlineTableSyntax inline)
        {
            foreach (var item in inline.Items)
            {
                if (item.KeyValue is { } inner)
                {
                    string[] innerPath = [.. path, .. inner.Key is null ? [] : KeyPath(inner.Key)];
                    CheckValue(innerPath, inner.Value, line, file, errors, lines);
                }
            }
        }
    }

    private static string Describe(ValueSyntax? value) => value switch
    {
        StringValueSyntax => "a string",
        BooleanValueSyntax => "a boolean",
        IntegerValueSyntax => "an integer",
        FloatValueSyntax => "a float",
        DateTimeValueSyntax => "a date-time",
        ArraySyntax => "an array",
        InlineTableSyntax => "a table",
        _ => "this value",
    };

    private static string UnknownKeyReason(string key, IEnumerable<string> valid)
    {
        var candidates = valid.ToList();
        var nearest = candidates.MinBy(c => ConfigValues.Distance(key, c));
        if (nearest is not null && ConfigValues.Distance(key, nearest) <= Math.Max(2, key.Length / 3))
        {
            return $"unknown key; did you mean \"{nearest}\"?";
        }

        return $"unknown key; valid keys here: {string.Join(", ", candidates)}";
    }

    private static string[] KeyPath(KeySyntax key)
    {
        var parts = new List<string> { KeyPart(key.Key) };
        foreach (var dotted in key.DotKeys)
        {
            parts.Add(KeyPart(dotted.Key));
        }

        return [.. parts];
    }

    private static string KeyPart(BareKeyOrStringValueSyntax? part) => part switch
    {
        BareKeySyntax bare => bare.Key?.Text ?? string.Empty,
        StringValueSyntax quoted => quoted.Value ?? string.Empty,
        _ => string.Empty,
    };

    /// <summary>Turns the deserialized model into options, adding an error for every bad value.</summary>
    private sealed class Validator(string file, Dictionary<string, int> lines, Func<string, string?> environment, List<ConfigError> errors)
    {
        private string _workingDirectory = string.Empty;
        private bool _outputKeyRejected;

        public HelperOptions? Build(HelperConfigFile model, bool? daemonModeOverride, string workingDirectory)
        {
            _workingDirectory = workingDirectory;

            // An output key already reported as wrong must not also produce "no output is configured".
            _outputKeyRejected = errors.Any(e => e.Key is { } k && (k.StartsWith("svid_", StringComparison.Ordinal) || k.StartsWith("jwt_", StringComparison.Ordinal) || k.StartsWith("pkcs12_", StringComparison.Ordinal) || k == "trust_bundles_dir_name"));
            var agentAddressText = Expand("agent_address", model.AgentAddress);
            var cmd = Expand("cmd", model.Cmd);
            var cmdArgsText = Expand("cmd_args", model.CmdArgs);
            var pidFileName = Expand("pid_file_name", model.PidFileName);
            var certDirText = Expand("cert_dir", model.CertDir);
            var renewSignalText = Expand("renew_signal", model.RenewSignal);
            var svidFileName = Expand("svid_file_name", model.SvidFileName);
            var keyFileName = Expand("svid_key_file_name", model.SvidKeyFileName);
            var bundleFileName = Expand("svid_bundle_file_name", model.SvidBundleFileName);
            var hint = Expand("hint", model.Hint);
            var restartText = Expand("cmd_restart_policy", model.CmdRestartPolicy);
            var stopTimeoutText = Expand("cmd_stop_timeout", model.CmdStopTimeout);
            var oneShotTimeoutText = Expand("one_shot_timeout", model.OneShotTimeout);
            var strategyText = Expand("write_strategy", model.WriteStrategy);
            var logLevelText = Expand("log_level", model.LogLevel);
            var logFormatText = Expand("log_format", model.LogFormat);
            var livenessPath = Expand("health_checks.liveness_path", model.HealthChecks?.LivenessPath);
            var readinessPath = Expand("health_checks.readiness_path", model.HealthChecks?.ReadinessPath);
            var metricsPath = Expand("health_checks.metrics_path", model.HealthChecks?.MetricsPath);

            WorkloadApiAddress? agentAddress = null;
            try
            {
                if (!string.IsNullOrEmpty(agentAddressText))
                {
                    agentAddress = WorkloadApiAddress.Parse(agentAddressText);
                }
                else if (environment(WorkloadApiAddress.EndpointSocketVariable) is { Length: > 0 } fromEnvironment)
                {
                    if (!WorkloadApiAddress.TryParse(fromEnvironment, out agentAddress, out var environmentError))
                    {
                        Error(null, $"agent_address is not set and {WorkloadApiAddress.EndpointSocketVariable} is invalid: {environmentError}");
                    }
                }
                else
                {
                    agentAddress = WorkloadApiAddress.Parse(WorkloadApiAddress.DefaultSocketPath);
                }
            }
            catch (FormatException e)
            {
                Error("agent_address", e.Message);
            }

            IReadOnlyList<string> cmdArgs = [];
            if (!string.IsNullOrEmpty(cmdArgsText))
            {
                if (!ConfigValues.TrySplitArguments(cmdArgsText, out cmdArgs, out var splitError))
                {
                    Error("cmd_args", splitError);
                }
                else if (string.IsNullOrEmpty(cmd))
                {
                    Error("cmd_args", "is set but cmd is not; set cmd to the program to start");
                }
            }

            RenewSignal? renewSignal = null;
            if (!string.IsNullOrEmpty(renewSignalText) && !ConfigValues.TryParseSignal(renewSignalText, out renewSignal))
            {
                Error("renew_signal", $"\"{renewSignalText}\" is not a supported signal name; valid: {ConfigValues.ValidSignalNames}");
            }

            if (!string.IsNullOrEmpty(pidFileName) && renewSignal is null && string.IsNullOrEmpty(renewSignalText))
            {
                Error("pid_file_name", "is set but renew_signal is not; set renew_signal (for example \"SIGHUP\") to the signal the process reloads on");
            }

            var restartPolicy = Choice("cmd_restart_policy", restartText, RestartPolicy.OnRenewal, ("on_renewal", RestartPolicy.OnRenewal), ("never", RestartPolicy.Never), ("on_failure", RestartPolicy.OnFailure), ("always", RestartPolicy.Always));
            var strategy = Choice("write_strategy", strategyText, WriteStrategy.AtomicDir, ("atomic_dir", WriteStrategy.AtomicDir), ("rename", WriteStrategy.Rename));
            var logLevel = Choice("log_level", logLevelText?.ToLowerInvariant(), LogLevel.Information, ("trace", LogLevel.Trace), ("debug", LogLevel.Debug), ("info", LogLevel.Information), ("warn", LogLevel.Warning), ("error", LogLevel.Error));
            var logFormat = Choice("log_format", logFormatText, LogFormat.Text, ("text", LogFormat.Text), ("json", LogFormat.Json));
            var stopTimeout = Duration("cmd_stop_timeout", stopTimeoutText, TimeSpan.FromSeconds(10));
            var oneShotTimeout = Duration("one_shot_timeout", oneShotTimeoutText, TimeSpan.FromMinutes(5));
            var certMode = Mode("cert_file_mode", model.CertFileMode, (UnixFileMode)Convert.ToInt32("644", 8));
            var keyMode = Mode("key_file_mode", model.KeyFileMode, UnixFileMode.UserRead | UnixFileMode.UserWrite);

            var names = new[] { ("svid_file_name", svidFileName), ("svid_key_file_name", keyFileName), ("svid_bundle_file_name", bundleFileName) };
            var set = names.Where(n => !string.IsNullOrEmpty(n.Item2)).ToList();
            var combinedFileName = Expand("svid_combined_file_name", model.SvidCombinedFileName).NullIfEmpty();
            var trustBundlesDirName = Expand("trust_bundles_dir_name", model.TrustBundlesDirName).NullIfEmpty();
            var pkcs12 = Pkcs12(model);
            var x509Extras = new[] { ("svid_combined_file_name", combinedFileName), ("trust_bundles_dir_name", trustBundlesDirName), ("pkcs12_keystore_file_name", pkcs12?.KeystoreFileName), ("pkcs12_truststore_file_name", pkcs12?.TruststoreFileName) }
                .Where(n => n.Item2 is not null).ToList();
            var jwt = Jwt(model);
            var outputs = new List<(string Key, string Name)>();
            X509OutputOptions? x509 = null;
            if (set.Count == 0)
            {
                if (x509Extras.Count > 0)
                {
                    Error(x509Extras[0].Item1, $"needs the X.509 output: set svid_file_name, svid_key_file_name and svid_bundle_file_name as well ({string.Join(", ", x509Extras.Select(n => n.Item1))} are written from the same SVID)");
                }
                else if (jwt is null && !_outputKeyRejected)
                {
                    Error(null, "no output is configured: set svid_file_name, svid_key_file_name and svid_bundle_file_name for X.509 output, and/or jwt_svids or jwt_bundle_file_name for JWT output");
                }
            }
            else if (set.Count < 3)
            {
                var missing = names.Where(n => string.IsNullOrEmpty(n.Item2)).Select(n => n.Item1);
                Error(set[0].Item1, $"X.509 output is half-configured: {string.Join(" and ", set.Select(n => n.Item1))} set but {string.Join(" and ", missing)} not; set all three or none");
            }
            else
            {
                outputs.AddRange(names.Select(n => (n.Item1, n.Item2!)));
                outputs.AddRange(x509Extras.Select(n => (n.Item1, n.Item2!)));
                x509 = new X509OutputOptions(svidFileName!, keyFileName!, bundleFileName!, model.AddIntermediatesToBundle ?? false, model.IncludeFederatedDomains ?? false)
                {
                    CombinedFileName = combinedFileName,
                    TrustBundlesDirName = trustBundlesDirName,
                    Pkcs12 = pkcs12,
                };
            }

            if (jwt is not null)
            {
                outputs.AddRange(jwt.Svids.Select((s, i) => ($"{JwtSvidsKey}[{i}].jwt_svid_file_name", s.FileName)));
                if (jwt.BundleFileName is { } jwtBundle)
                {
                    outputs.Add(("jwt_bundle_file_name", jwtBundle));
                }
            }

            foreach (var (key, name) in outputs)
            {
                if (name.Contains('/', StringComparison.Ordinal) || name is "." or ".." || name.StartsWith("..", StringComparison.Ordinal))
                {
                    Error(key, $"\"{name}\" must be a plain file name inside cert_dir (no \"/\", not starting with \"..\")");
                }
            }

            foreach (var duplicate in outputs.GroupBy(o => o.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
            {
                var keys = duplicate.Select(d => d.Key).ToList();
                Error(keys[1], $"\"{duplicate.Key}\" is also the file name of {string.Join(" and ", keys.Where(k => k != keys[1]))}; every output needs its own file name");
            }

            if (x509 is null && jwt is not null && !jwt.SignalOnUpdate && !string.IsNullOrEmpty(cmd))
            {
                Error("cmd", "is set but nothing would start it: with JWT output only, set signal_on_jwt_update = true so that JWT updates start and signal cmd");
            }

            var health = HealthOptions.Default;
            if (model.HealthChecks is { } hc)
            {
                var port = hc.BindPort ?? health.BindPort;
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
                if (hc.BindAddress is { } address && !System.Net.IPAddress.TryParse(address, out bindAddress))
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
            }

            if (errors.Count > 0 || agentAddress is null || (x509 is null && jwt is null))
            {
                return null;
            }

            var certDir = Path.GetFullPath(string.IsNullOrEmpty(certDirText) ? "." : certDirText, workingDirectory);
            return new HelperOptions
            {
                ConfigFile = file,
                AgentAddress = agentAddress,
                Cmd = string.IsNullOrEmpty(cmd) ? null : cmd,
                CmdArgs = cmdArgs,
                CmdRestartPolicy = restartPolicy,
                CmdStopTimeout = stopTimeout,
                PidFileName = string.IsNullOrEmpty(pidFileName) ? null : Path.GetFullPath(pidFileName, workingDirectory),
                CertDir = certDir,
                RenewSignal = renewSignal,
                X509 = x509,
                Jwt = jwt,
                OmitExpired = model.OmitExpired ?? false,
                CertFileMode = certMode,
                KeyFileMode = keyMode,
                Hint = hint ?? string.Empty,
                DaemonMode = daemonModeOverride ?? model.DaemonMode ?? true,
                OneShotTimeout = oneShotTimeout,
                WriteStrategy = strategy,
                LogLevel = logLevel,
                LogFormat = logFormat,
                Health = health,
            };
        }

        private Pkcs12Options? Pkcs12(HelperConfigFile model)
        {
            var keystore = Expand("pkcs12_keystore_file_name", model.Pkcs12KeystoreFileName).NullIfEmpty();
            var truststore = Expand("pkcs12_truststore_file_name", model.Pkcs12TruststoreFileName).NullIfEmpty();
            var password = Expand("pkcs12_password", model.Pkcs12Password);
            var passwordFile = Expand("pkcs12_password_file", model.Pkcs12PasswordFile).NullIfEmpty();
            if (keystore is null && truststore is null)
            {
                foreach (var (key, value) in new[] { ("pkcs12_password", password), ("pkcs12_password_file", passwordFile) })
                {
                    if (!string.IsNullOrEmpty(value))
                    {
                        Error(key, "is set but neither pkcs12_keystore_file_name nor pkcs12_truststore_file_name is; set the store(s) it protects");
                    }
                }

                return null;
            }

            var storeKey = keystore is not null ? "pkcs12_keystore_file_name" : "pkcs12_truststore_file_name";
            if (password is not null && passwordFile is not null)
            {
                Error("pkcs12_password_file", "is set together with pkcs12_password; set only one of them");
            }
            else if (password is null && passwordFile is null)
            {
                Error(storeKey, "needs a password: set pkcs12_password (a value or \"${ENV_VAR}\") or pkcs12_password_file (a file holding it)");
            }
            else if (password is { Length: 0 })
            {
                Error("pkcs12_password", "must not be empty (Java's keytool refuses keystores without a password)");
            }

            return new Pkcs12Options(keystore, truststore, password, passwordFile is null ? null : Path.GetFullPath(passwordFile, _workingDirectory));
        }

        private JwtOutputOptions? Jwt(HelperConfigFile model)
        {
            var svids = new List<JwtSvidOutput>();
            for (var i = 0; i < (model.JwtSvids?.Count ?? 0); i++)
            {
                var item = model.JwtSvids![i];
                var prefix = $"{JwtSvidsKey}[{i}]";
                var audience = Expand(prefix + ".jwt_audience", item.JwtAudience);
                var fileName = Expand(prefix + ".jwt_svid_file_name", item.JwtSvidFileName);
                var extras = new List<string>();
                foreach (var extra in item.JwtExtraAudiences ?? [])
                {
                    var expanded = Expand(prefix + ".jwt_extra_audiences", extra);
                    if (expanded is { Length: 0 })
                    {
                        Error(prefix + ".jwt_extra_audiences", "must not contain an empty audience");
                    }
                    else if (expanded is not null)
                    {
                        extras.Add(expanded);
                    }
                }

                if (string.IsNullOrEmpty(item.JwtAudience))
                {
                    Error(prefix, "jwt_audience is missing or empty: every JWT-SVID needs the audience it is for");
                }

                if (string.IsNullOrEmpty(item.JwtSvidFileName))
                {
                    Error(prefix, "jwt_svid_file_name is missing or empty: every JWT-SVID needs the file it is written to");
                }

                if (!string.IsNullOrEmpty(audience) && !string.IsNullOrEmpty(fileName))
                {
                    svids.Add(new JwtSvidOutput(audience, [.. extras.Where(e => e != audience).Distinct(StringComparer.Ordinal)], fileName));
                }
            }

            var bundleFileName = Expand("jwt_bundle_file_name", model.JwtBundleFileName).NullIfEmpty();
            var formatText = Expand("jwt_bundle_format", model.JwtBundleFormat);
            var format = Choice("jwt_bundle_format", formatText, JwtBundleFormat.Go, ("go", JwtBundleFormat.Go), ("jwks", JwtBundleFormat.Jwks));
            var svidMode = Mode("jwt_svid_file_mode", model.JwtSvidFileMode, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var bundleMode = Mode("jwt_bundle_file_mode", model.JwtBundleFileMode, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            if (svids.Count == 0 && bundleFileName is null)
            {
                return null;
            }

            return new JwtOutputOptions(svids, bundleFileName, format, svidMode, bundleMode, model.SignalOnJwtUpdate ?? false);
        }

        private string? Expand(string key, string? value)
        {
            if (value is null)
            {
                return null;
            }

            if (!ConfigValues.TryExpandEnvironment(value, environment, out var expanded, out var error))
            {
                Error(key, error);
                return null;
            }

            return expanded;
        }

        private T Choice<T>(string key, string? text, T fallback, params (string Name, T Value)[] choices)
        {
            if (string.IsNullOrEmpty(text))
            {
                return fallback;
            }

            foreach (var (name, value) in choices)
            {
                if (string.Equals(name, text, StringComparison.Ordinal))
                {
                    return value;
                }
            }

            Error(key, $"\"{text}\" is not valid; use one of: {string.Join(", ", choices.Select(c => c.Name))}");
            return fallback;
        }

        private TimeSpan Duration(string key, string? text, TimeSpan fallback)
        {
            if (string.IsNullOrEmpty(text))
            {
                return fallback;
            }

            if (!ConfigValues.TryParseDuration(text, out var duration) || duration <= TimeSpan.Zero)
            {
                Error(key, $"\"{text}\" is not a positive duration; write it like \"30s\", \"5m\" or \"1h30m\"");
                return fallback;
            }

            return duration;
        }

        private UnixFileMode Mode(string key, FileModeText? text, UnixFileMode fallback)
        {
            if (text is null)
            {
                return fallback;
            }

            if (!ConfigValues.TryParseFileMode(text.Octal, out var mode))
            {
                var shown = text.FromInteger ? $"0o{text.Octal}" : $"\"{text.Octal}\"";
                Error(key, $"{shown} is not a file mode; write permission bits in octal, 0o644 or \"0644\" (at most 0777)");
                return fallback;
            }

            return mode;
        }

        private void Error(string? key, string reason)
        {
            int? line = key is not null && lines.TryGetValue(key, out var l) ? l : null;
            errors.Add(new ConfigError(file, line, key, reason));
        }
    }
}
