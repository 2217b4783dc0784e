using Microsoft.Extensions.Logging;

namespace SpiffeHelper.Config;

internal static partial class ConfigLoader
{
    /// <summary>
    /// Turns the model into options, adding an error for every bad value. One part per seam:
    /// this file (shared rules and the assembly), <c>.Process</c> (agent, cmd, signals, timeouts),
    /// <c>.X509</c>, <c>.Jwt</c> and <c>.Health</c>.
    /// </summary>
    private sealed partial class Validator(
        string file,
        ConfigSyntax syntax,
        Dictionary<string, int> lines,
        Func<string, string?> environment,
        List<ConfigError> errors,
        List<ConfigError> warnings,
        bool checkCommand)
    {
        /// <summary>The longest timeout accepted: .NET timers and delays stop at about 24.8 days.</summary>
        public static readonly TimeSpan MaxTimeout = TimeSpan.FromHours(576);

        private string _workingDirectory = string.Empty;
        private bool _outputKeyRejected;

        public HelperOptions? Build(HelperConfigFile model, bool? daemonModeOverride, string workingDirectory)
        {
            _workingDirectory = workingDirectory;

            // An output key already reported as wrong must not also produce "no output is configured".
            _outputKeyRejected = errors.Any(e => e.Key is { } k && (k.StartsWith("svid_", StringComparison.Ordinal) || k.StartsWith("jwt_", StringComparison.Ordinal) || k.StartsWith("pkcs12_", StringComparison.Ordinal) || k == "trust_bundles_dir_name"));
            var daemonMode = daemonModeOverride ?? model.DaemonMode ?? true;
            var process = Process(model, daemonMode);
            var certDirText = Expand("cert_dir", model.CertDir);
            var hint = Expand("hint", model.Hint);
            var strategyText = Expand("write_strategy", model.WriteStrategy);
            var logLevelText = Expand("log_level", model.LogLevel);
            var logFormatText = Expand("log_format", model.LogFormat);
            var strategy = Choice("write_strategy", strategyText, WriteStrategy.AtomicDir, ("atomic_dir", WriteStrategy.AtomicDir), ("rename", WriteStrategy.Rename));
            var logLevel = Choice("log_level", logLevelText?.ToLowerInvariant(), LogLevel.Information, ("trace", LogLevel.Trace), ("debug", LogLevel.Debug), ("info", LogLevel.Information), ("warn", LogLevel.Warning), ("error", LogLevel.Error));
            var logFormat = Choice("log_format", logFormatText, LogFormat.Text, ("text", LogFormat.Text), ("json", LogFormat.Json));
            var certMode = Mode("cert_file_mode", model.CertFileMode, (UnixFileMode)Convert.ToInt32("644", 8));
            var keyMode = Mode("key_file_mode", model.KeyFileMode, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            WarnIfSecretReadable("key_file_mode", keyMode, "the private key");

            var x509 = X509(model);
            var jwt = Jwt(model);
            CheckOutputs(x509, jwt, process.Cmd);
            var health = Health(model.HealthChecks);

            if (errors.Count > 0 || process.AgentAddress is null || (x509 is null && jwt is null))
            {
                return null;
            }

            var certDir = Path.GetFullPath(string.IsNullOrEmpty(certDirText) ? "." : certDirText, workingDirectory);
            return new HelperOptions
            {
                ConfigFile = file,
                AgentAddress = process.AgentAddress,
                Cmd = process.Cmd,
                CmdArgs = process.CmdArgs,
                CmdRestartPolicy = process.RestartPolicy,
                CmdStopTimeout = process.StopTimeout,
                PidFileName = process.PidFileName,
                CertDir = certDir,
                RenewSignal = process.RenewSignal,
                X509 = x509,
                Jwt = jwt,
                OmitExpired = model.OmitExpired ?? false,
                CertFileMode = certMode,
                KeyFileMode = keyMode,
                Hint = hint ?? string.Empty,
                DaemonMode = daemonMode,
                OneShotTimeout = process.OneShotTimeout,
                WriteStrategy = strategy,
                WriteStrategyIsExplicit = !string.IsNullOrEmpty(strategyText),
                LogLevel = logLevel,
                LogFormat = logFormat,
                Health = health,
            };
        }

        /// <summary>
        /// A string value as the program uses it. TOML: <c>${NAME}</c> is replaced by the environment variable
        /// (unset is an error). HCL: kept exactly as written, as the Go tool keeps it.
        /// </summary>
        private string? Expand(string key, string? value)
        {
            if (value is null)
            {
                return null;
            }

            if (syntax == ConfigSyntax.Hcl)
            {
                if (value.Contains("${", StringComparison.Ordinal) && key != "cmd_args")
                {
                    Warn(key, "contains \"${\", kept as written: an HCL file is read as the Go tool reads it, without environment expansion (write the config in TOML to use ${VAR})");
                }

                return value;
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

            if (!ConfigValues.TryParseDuration(text, out var duration, out var tooLong) || (duration <= TimeSpan.Zero && !tooLong))
            {
                Error(key, $"\"{text}\" is not a positive duration; write it like \"30s\", \"5m\" or \"1h30m\"");
                return fallback;
            }

            if (tooLong || duration > MaxTimeout)
            {
                Error(key, $"\"{text}\" is out of range; use a duration from 1ms to 576h (24 days)");
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

            if (text.Syntax == ConfigSyntax.Toml)
            {
                var octal = text.FromInteger ? (text.Value is >= 0 and <= 0x1FF ? Convert.ToString(text.Value.Value, 8) : "invalid") : text.Written;
                if (!ConfigValues.TryParseFileMode(octal, out var mode))
                {
                    var shown = text.FromInteger ? text.Written : $"\"{text.Written}\"";
                    Error(key, $"{shown} is not a file mode; write permission bits in octal, 0o644 or \"0644\" (at most 0777)");
                    return fallback;
                }

                return mode;
            }

            // HCL: as the Go tool, an integer in Go syntax (0644 octal, 420 decimal, 0x1a4 hex), quoted or not.
            long? value = text.FromInteger ? text.Value : Hcl.HclIntegers.TryParse(text.Written, out var parsed) ? parsed : null;
            if (value is null)
            {
                Error(key, $"{(text.FromInteger ? text.Written : $"\"{text.Written}\"")} is not a file mode; write permission bits in octal with a leading zero, such as 0644 (at most 0777)");
                return fallback;
            }

            if (value < 0)
            {
                Error(key, $"{text.Written} is negative; a file mode is written in octal with a leading zero, such as 0644");
                return fallback;
            }

            if (value == 0)
            {
                // The Go tool reads 0 as "not set".
                return fallback;
            }

            var bits = (UnixFileMode)(value.Value & 0x1FF);
            var written = text.Written.TrimStart('+');
            if (value > 0x1FF)
            {
                Warn(key, $"{written} has bits above 0777, which are dropped as the Go tool drops them: the mode is {ConfigValues.FormatMode(bits)} ({ConfigValues.Symbolic(bits)}); write the mode in octal with a leading zero, such as 0644");
            }
            else if (written.Length >= 3 && written[0] != '0' && written.All(c => c is >= '0' and <= '7'))
            {
                Warn(key, $"{written} is a decimal number (the Go tool reads it so too): the mode is {ConfigValues.FormatMode(bits)} ({ConfigValues.Symbolic(bits)}); if you meant octal, write 0{written}");
            }

            return bits;
        }

        private void WarnIfSecretReadable(string key, UnixFileMode mode, string what)
        {
            const UnixFileMode Others = UnixFileMode.GroupRead | UnixFileMode.OtherRead;
            if ((mode & Others) != 0)
            {
                var who = (mode & Others) == Others ? "group and others" : (mode & UnixFileMode.GroupRead) != 0 ? "the group" : "others";
                Warn(key, $"mode {ConfigValues.FormatMode(mode)} ({ConfigValues.Symbolic(mode)}) lets {who} read {what}; allowed as in the Go tool, but 0600 keeps it private");
            }
        }

        private void Error(string? key, string reason)
        {
            int? line = key is not null && lines.TryGetValue(key, out var l) ? l : null;
            errors.Add(new ConfigError(file, line, key, reason));
        }

        private void Warn(string? key, string reason)
        {
            int? line = key is not null && lines.TryGetValue(key, out var l) ? l : null;
            warnings.Add(new ConfigError(file, line, key, reason));
        }
    }
}
