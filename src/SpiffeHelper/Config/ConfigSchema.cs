using SpiffeHelper.Config.Hcl;

namespace SpiffeHelper.Config;

/// <summary>
/// The one key schema, for both syntaxes: every key, where it may appear and what type it holds. Reads
/// the syntax-neutral tree into <see cref="HelperConfigFile"/>, reporting every unknown key (with the
/// nearest known one) and every value of the wrong type, with its line.
/// <para>
/// The rules that differ between the syntaxes, each following the format's origin:
/// in HCL, as hashicorp/hcl's <c>hcl.Decode</c> does for the Go tool, keys match without regard to case,
/// a key given twice keeps its last value (a warning says so), repeated blocks merge, repeated lists
/// (<c>jwt_svids</c>) append, a <c>jwt_svids { ... }</c> block is one more list item, a number is accepted
/// where a string is expected and a quoted number where an integer is. TOML is strict about all of these.
/// </para>
/// </summary>
internal static class ConfigSchema
{
    internal enum Kind
    {
        String,
        Boolean,
        Integer,
        FileMode,
        Table,
        StringArray,
        TableArray,
    }

    public const string JwtSvidsKey = "jwt_svids";
    public const string HealthChecksKey = "health_checks";

    /// <summary>Top-level keys; the Go tool's v0.11 keys first, then this helper's own.</summary>
    public static readonly IReadOnlyDictionary<string, Kind> RootKeys = new Dictionary<string, Kind>(StringComparer.Ordinal)
    {
        ["agent_address"] = Kind.String,
        ["cmd"] = Kind.String,
        ["cmd_args"] = Kind.String,
        ["pid_file_name"] = Kind.String,
        ["cert_dir"] = Kind.String,
        ["cert_file_mode"] = Kind.FileMode,
        ["key_file_mode"] = Kind.FileMode,
        ["jwt_bundle_file_mode"] = Kind.FileMode,
        ["jwt_svid_file_mode"] = Kind.FileMode,
        ["include_federated_domains"] = Kind.Boolean,
        ["omit_expired"] = Kind.Boolean,
        ["renew_signal"] = Kind.String,
        ["daemon_mode"] = Kind.Boolean,
        [HealthChecksKey] = Kind.Table,
        ["hint"] = Kind.String,
        ["svid_file_name"] = Kind.String,
        ["svid_key_file_name"] = Kind.String,
        ["svid_bundle_file_name"] = Kind.String,
        [JwtSvidsKey] = Kind.TableArray,
        ["jwt_bundle_file_name"] = Kind.String,
        ["add_intermediates_to_bundle"] = Kind.Boolean,

        ["cmd_restart_policy"] = Kind.String,
        ["cmd_stop_timeout"] = Kind.String,
        ["one_shot_timeout"] = Kind.String,
        ["write_strategy"] = Kind.String,
        ["log_level"] = Kind.String,
        ["log_format"] = Kind.String,
        ["svid_combined_file_name"] = Kind.String,
        ["trust_bundles_dir_name"] = Kind.String,
        ["pkcs12_keystore_file_name"] = Kind.String,
        ["pkcs12_truststore_file_name"] = Kind.String,
        ["pkcs12_password"] = Kind.String,
        ["pkcs12_password_file"] = Kind.String,
        ["jwt_bundle_format"] = Kind.String,
        ["signal_on_jwt_update"] = Kind.Boolean,
    };

    public static readonly IReadOnlyDictionary<string, Kind> JwtSvidKeys = new Dictionary<string, Kind>(StringComparer.Ordinal)
    {
        ["jwt_audience"] = Kind.String,
        ["jwt_extra_audiences"] = Kind.StringArray,
        ["jwt_svid_file_name"] = Kind.String,
    };

    public static readonly IReadOnlyDictionary<string, Kind> HealthKeys = new Dictionary<string, Kind>(StringComparer.Ordinal)
    {
        ["listener_enabled"] = Kind.Boolean,
        ["bind_port"] = Kind.Integer,
        ["bind_address"] = Kind.String,
        ["liveness_path"] = Kind.String,
        ["readiness_path"] = Kind.String,
        ["metrics_path"] = Kind.String,
    };

    /// <summary>Reads <paramref name="document"/>'s tree; lines of every key read go to <paramref name="lines"/>.</summary>
    public static HelperConfigFile Read(ConfigDocument document, string file, List<ConfigError> errors, List<ConfigError> warnings, Dictionary<string, int> lines)
    {
        var reader = new Reader(document.Syntax, file, errors, warnings, lines);
        var model = new HelperConfigFile();
        reader.ReadRoot(document.Root!, model);
        return model;
    }

    public static string UnknownKeyReason(string key, IEnumerable<string> valid)
    {
        var candidates = valid.ToList();
        var nearest = candidates.MinBy(c => ConfigValues.Distance(key, c));
        if (nearest is not null && ConfigValues.Distance(key, nearest) <= Math.Max(2, key.Length / 3))
        {
            return $"unknown key; did you mean \"{nearest}\"?";
        }

        // A name with a word left out (jwt_file_name for jwt_svid_file_name).
        var words = key.Split('_', '-');
        var containing = candidates.Where(c => words.All(w => c.Split('_').Contains(w, StringComparer.Ordinal))).ToList();
        if (words.Length > 1 && containing.Count == 1)
        {
            return $"unknown key; did you mean \"{containing[0]}\"?";
        }

        return $"unknown key; valid keys here: {string.Join(", ", candidates)}";
    }

    private sealed class Reader(ConfigSyntax syntax, string file, List<ConfigError> errors, List<ConfigError> warnings, Dictionary<string, int> lines)
    {
        private bool Hcl => syntax == ConfigSyntax.Hcl;

        public void ReadRoot(ConfigTable root, HelperConfigFile model)
        {
            var seen = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var entry in root.Entries)
            {
                if (Known(entry, string.Empty, RootKeys, seen) is not { } match)
                {
                    continue;
                }

                var (key, kind) = match;
                if (kind == Kind.Table)
                {
                    if (entry.Value is not ConfigTable table)
                    {
                        TypeError(key, entry, kind);
                        continue;
                    }

                    model.HealthChecks ??= new HealthChecksFile();
                    ReadHealth(table, model.HealthChecks);
                    continue;
                }

                if (kind == Kind.TableArray)
                {
                    ReadJwtSvids(entry, model);
                    continue;
                }

                if (Scalar(key, entry, kind) is not { } value)
                {
                    continue;
                }

                Set(model, key, value);
            }
        }

        private void ReadHealth(ConfigTable table, HealthChecksFile health)
        {
            var seen = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var entry in table.Entries)
            {
                if (Known(entry, HealthChecksKey + ".", HealthKeys, seen) is not { } match)
                {
                    continue;
                }

                var (key, kind) = match;
                var dotted = HealthChecksKey + "." + key;
                if (Scalar(dotted, entry, kind) is not { } value)
                {
                    continue;
                }

                switch (key)
                {
                    case "listener_enabled": health.ListenerEnabled = value.Boolean; break;
                    case "bind_port": health.BindPort = value.Integer; break;
                    case "bind_address": health.BindAddress = value.Text; break;
                    case "liveness_path": health.LivenessPath = value.Text; break;
                    case "readiness_path": health.ReadinessPath = value.Text; break;
                    case "metrics_path": health.MetricsPath = value.Text; break;
                }
            }
        }

        private void ReadJwtSvids(ConfigEntry entry, HelperConfigFile model)
        {
            IReadOnlyList<ConfigNode> items = entry.Value switch
            {
                ConfigList list => list.Items,
                ConfigTable block when Hcl => [block],
                _ => [],
            };
            if (entry.Value is not ConfigList && !(Hcl && entry.Value is ConfigTable))
            {
                TypeError(JwtSvidsKey, entry, Kind.TableArray);
                return;
            }

            lines.TryAdd(JwtSvidsKey, entry.Line);
            model.JwtSvids ??= [];
            foreach (var item in items)
            {
                var index = model.JwtSvids.Count;
                var prefix = $"{JwtSvidsKey}[{index}]";
                if (item is not ConfigTable table)
                {
                    Error(prefix, item.Line, $"must be a table such as {{ jwt_audience = \"api\", jwt_svid_file_name = \"api.token\" }}, not {Describe(item)}");
                    continue;
                }

                lines[prefix] = table.Line;
                var svid = new JwtSvidFile();
                model.JwtSvids.Add(svid);
                var seen = new Dictionary<string, int>(StringComparer.Ordinal);
                foreach (var inner in table.Entries)
                {
                    if (Known(inner, prefix + ".", JwtSvidKeys, seen) is not { } match)
                    {
                        continue;
                    }

                    var (key, kind) = match;
                    var dotted = prefix + "." + key;
                    if (kind == Kind.StringArray)
                    {
                        if (StringList(dotted, inner) is { } audiences)
                        {
                            // HCL appends repeated lists, as hcl.Decode does.
                            svid.JwtExtraAudiences = Hcl && svid.JwtExtraAudiences is { } earlier ? [.. earlier, .. audiences] : audiences;
                        }

                        continue;
                    }

                    if (Scalar(dotted, inner, kind) is not { } value)
                    {
                        continue;
                    }

                    if (key == "jwt_audience")
                    {
                        svid.JwtAudience = value.Text;
                    }
                    else
                    {
                        svid.JwtSvidFileName = value.Text;
                    }
                }
            }
        }

        /// <summary>The key's schema entry, or null after reporting it as unknown; HCL matches without case.</summary>
        private (string Key, Kind Kind)? Known(ConfigEntry entry, string prefix, IReadOnlyDictionary<string, Kind> keys, Dictionary<string, int> seen)
        {
            var key = entry.Key;
            if (!keys.TryGetValue(key, out var kind) && Hcl)
            {
                var folded = keys.Keys.FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase));
                if (folded is not null)
                {
                    key = folded;
                    kind = keys[folded];
                }
            }

            if (!keys.ContainsKey(key))
            {
                errors.Add(new ConfigError(file, entry.Line, prefix + entry.Key, UnknownKeyReason(entry.Key, keys.Keys)));
                return null;
            }

            if (seen.TryGetValue(key, out var firstLine) && kind is not (Kind.Table or Kind.TableArray or Kind.StringArray))
            {
                warnings.Add(new ConfigError(file, entry.Line, prefix + key, $"is also set on line {firstLine}; the last value is used (as the Go tool does)"));
            }

            seen[key] = entry.Line;
            lines[prefix + key] = entry.Line;
            return (key, kind);
        }

        private ScalarValue? Scalar(string dotted, ConfigEntry entry, Kind kind)
        {
            var node = entry.Value;
            switch (kind, node)
            {
                case (Kind.String, ConfigScalar { Kind: ScalarKind.String } s):
                    return new ScalarValue(s.Text);
                case (Kind.String, ConfigScalar { Kind: ScalarKind.Integer } s) when Hcl:
                    return new ScalarValue(s.Text);
                case (Kind.Boolean, ConfigScalar { Kind: ScalarKind.Boolean } s):
                    return new ScalarValue(s.Text, Boolean: s.Text == "true");
                case (Kind.Integer, ConfigScalar { Kind: ScalarKind.Integer } s):
                    if (s.Integer is null)
                    {
                        Error(dotted, entry.Line, $"{s.Text} is out of range");
                        return null;
                    }

                    return new ScalarValue(s.Text, Integer: s.Integer);
                case (Kind.Integer, ConfigScalar { Kind: ScalarKind.String } s) when Hcl:
                    if (!HclIntegers.TryParse(s.Text, out var parsed))
                    {
                        Error(dotted, entry.Line, $"\"{s.Text}\" is not an integer");
                        return null;
                    }

                    return new ScalarValue(s.Text, Integer: parsed);
                case (Kind.FileMode, ConfigScalar { Kind: ScalarKind.Integer or ScalarKind.String } s):
                    return new ScalarValue(s.Text, Mode: new FileModeText(s.Text, s.Kind == ScalarKind.Integer ? s.Integer : null, s.Kind == ScalarKind.Integer, syntax));
                default:
                    TypeError(dotted, entry, kind);
                    return null;
            }
        }

        private List<string>? StringList(string dotted, ConfigEntry entry)
        {
            if (entry.Value is not ConfigList list || list.Items.Any(i => i is not ConfigScalar { Kind: ScalarKind.String } && !(Hcl && i is ConfigScalar { Kind: ScalarKind.Integer })))
            {
                TypeError(dotted, entry, Kind.StringArray);
                return null;
            }

            return [.. list.Items.Cast<ConfigScalar>().Select(s => s.Text)];
        }

        private void TypeError(string dotted, ConfigEntry entry, Kind kind)
        {
            var expected = kind switch
            {
                Kind.String => "a string (in double quotes)",
                Kind.Boolean => "a boolean (true or false, without quotes)",
                Kind.Integer => "an integer",
                Kind.FileMode => Hcl ? "a file mode, written 0644 (octal, as in the Go tool)" : "a file mode, written 0o644 or \"0644\"",
                Kind.StringArray => Hcl ? "a list of strings, such as [\"a\", \"b\"]" : "an array of strings, such as [\"a\", \"b\"]",
                Kind.TableArray => Hcl
                    ? "a list of objects, such as [{ jwt_audience = \"api\", jwt_svid_file_name = \"api.token\" }]"
                    : "an array of tables, such as [{ jwt_audience = \"api\", jwt_svid_file_name = \"api.token\" }]",
                _ => Hcl ? $"a block ({dotted} {{ ... }})" : $"a table ([{dotted}])",
            };
            Error(dotted, entry.Line, $"must be {expected}, not {Describe(entry.Value)}");
        }

        private void Error(string key, int line, string reason) => errors.Add(new ConfigError(file, line, key, reason));

        private static string Describe(ConfigNode node) => node switch
        {
            ConfigScalar { Kind: ScalarKind.String } => "a string",
            ConfigScalar { Kind: ScalarKind.Boolean } => "a boolean",
            ConfigScalar { Kind: ScalarKind.Integer } => "an integer",
            ConfigScalar { Kind: ScalarKind.Float } => "a float",
            ConfigScalar { Kind: ScalarKind.DateTime } => "a date-time",
            ConfigList => "a list",
            ConfigTable => "a table",
            _ => "this value",
        };

        private static void Set(HelperConfigFile model, string key, ScalarValue value)
        {
            switch (key)
            {
                case "agent_address": model.AgentAddress = value.Text; break;
                case "cmd": model.Cmd = value.Text; break;
                case "cmd_args": model.CmdArgs = value.Text; break;
                case "pid_file_name": model.PidFileName = value.Text; break;
                case "cert_dir": model.CertDir = value.Text; break;
                case "cert_file_mode": model.CertFileMode = value.Mode; break;
                case "key_file_mode": model.KeyFileMode = value.Mode; break;
                case "jwt_bundle_file_mode": model.JwtBundleFileMode = value.Mode; break;
                case "jwt_svid_file_mode": model.JwtSvidFileMode = value.Mode; break;
                case "include_federated_domains": model.IncludeFederatedDomains = value.Boolean; break;
                case "omit_expired": model.OmitExpired = value.Boolean; break;
                case "renew_signal": model.RenewSignal = value.Text; break;
                case "daemon_mode": model.DaemonMode = value.Boolean; break;
                case "hint": model.Hint = value.Text; break;
                case "svid_file_name": model.SvidFileName = value.Text; break;
                case "svid_key_file_name": model.SvidKeyFileName = value.Text; break;
                case "svid_bundle_file_name": model.SvidBundleFileName = value.Text; break;
                case "jwt_bundle_file_name": model.JwtBundleFileName = value.Text; break;
                case "add_intermediates_to_bundle": model.AddIntermediatesToBundle = value.Boolean; break;
                case "cmd_restart_policy": model.CmdRestartPolicy = value.Text; break;
                case "cmd_stop_timeout": model.CmdStopTimeout = value.Text; break;
                case "one_shot_timeout": model.OneShotTimeout = value.Text; break;
                case "write_strategy": model.WriteStrategy = value.Text; break;
                case "log_level": model.LogLevel = value.Text; break;
                case "log_format": model.LogFormat = value.Text; break;
                case "svid_combined_file_name": model.SvidCombinedFileName = value.Text; break;
                case "trust_bundles_dir_name": model.TrustBundlesDirName = value.Text; break;
                case "pkcs12_keystore_file_name": model.Pkcs12KeystoreFileName = value.Text; break;
                case "pkcs12_truststore_file_name": model.Pkcs12TruststoreFileName = value.Text; break;
                case "pkcs12_password": model.Pkcs12Password = value.Text; break;
                case "pkcs12_password_file": model.Pkcs12PasswordFile = value.Text; break;
                case "jwt_bundle_format": model.JwtBundleFormat = value.Text; break;
                case "signal_on_jwt_update": model.SignalOnJwtUpdate = value.Boolean; break;
                default: throw new InvalidOperationException($"the schema has no setter for {key}");
            }
        }
    }

    private sealed record ScalarValue(string Text, bool? Boolean = null, long? Integer = null, FileModeText? Mode = null);
}
