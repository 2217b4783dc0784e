namespace SpiffeHelper.Config;

internal static partial class ConfigLoader
{
    private sealed partial class Validator
    {
        private static readonly string[] X509NameKeys = ["svid_file_name", "svid_key_file_name", "svid_bundle_file_name"];

        private X509OutputOptions? X509(HelperConfigFile model)
        {
            var svidFileName = Expand("svid_file_name", model.SvidFileName);
            var keyFileName = Expand("svid_key_file_name", model.SvidKeyFileName);
            var bundleFileName = Expand("svid_bundle_file_name", model.SvidBundleFileName);
            var names = new[] { (X509NameKeys[0], svidFileName), (X509NameKeys[1], keyFileName), (X509NameKeys[2], bundleFileName) };
            var set = names.Where(n => !string.IsNullOrEmpty(n.Item2)).ToList();
            var combinedFileName = Expand("svid_combined_file_name", model.SvidCombinedFileName).NullIfEmpty();
            var trustBundlesDirName = Expand("trust_bundles_dir_name", model.TrustBundlesDirName).NullIfEmpty();
            var pkcs12 = Pkcs12(model);
            var extras = new[] { ("svid_combined_file_name", combinedFileName), ("trust_bundles_dir_name", trustBundlesDirName), ("pkcs12_keystore_file_name", pkcs12?.KeystoreFileName), ("pkcs12_truststore_file_name", pkcs12?.TruststoreFileName) }
                .Where(n => n.Item2 is not null).ToList();
            if (set.Count == 0)
            {
                if (extras.Count > 0)
                {
                    Error(extras[0].Item1, $"needs the X.509 output: set svid_file_name, svid_key_file_name and svid_bundle_file_name as well ({string.Join(", ", extras.Select(n => n.Item1))} are written from the same SVID)");
                }

                return null;
            }

            if (set.Count < 3)
            {
                var missing = names.Where(n => string.IsNullOrEmpty(n.Item2)).Select(n => n.Item1);
                Error(set[0].Item1, $"X.509 output is half-configured: {string.Join(" and ", set.Select(n => n.Item1))} set but {string.Join(" and ", missing)} not; set all three or none");
                return null;
            }

            return new X509OutputOptions(svidFileName!, keyFileName!, bundleFileName!, model.AddIntermediatesToBundle ?? false, model.IncludeFederatedDomains ?? false)
            {
                CombinedFileName = combinedFileName,
                TrustBundlesDirName = trustBundlesDirName,
                Pkcs12 = pkcs12,
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

        /// <summary>Rules across outputs: at least one, plain distinct names inside cert_dir, cmd reachable.</summary>
        private void CheckOutputs(X509OutputOptions? x509, JwtOutputOptions? jwt, string? cmd)
        {
            var x509KeyRejected = errors.Any(e => e.Key is { } k && X509NameKeys.Contains(k));
            if (x509 is null && jwt is null && !_outputKeyRejected && !x509KeyRejected && !errors.Any(e => e.Reason.Contains("half-configured", StringComparison.Ordinal) || e.Reason.Contains("needs the X.509 output", StringComparison.Ordinal)))
            {
                Error(null, "no output is configured: set svid_file_name, svid_key_file_name and svid_bundle_file_name for X.509 output, and/or jwt_svids or jwt_bundle_file_name for JWT output");
            }

            var outputs = new List<(string Key, string Name)>();
            if (x509 is not null)
            {
                outputs.Add((X509NameKeys[0], x509.SvidFileName));
                outputs.Add((X509NameKeys[1], x509.KeyFileName));
                outputs.Add((X509NameKeys[2], x509.BundleFileName));
                foreach (var (key, name) in new[] { ("svid_combined_file_name", x509.CombinedFileName), ("trust_bundles_dir_name", x509.TrustBundlesDirName), ("pkcs12_keystore_file_name", x509.Pkcs12?.KeystoreFileName), ("pkcs12_truststore_file_name", x509.Pkcs12?.TruststoreFileName) })
                {
                    if (name is not null)
                    {
                        outputs.Add((key, name));
                    }
                }
            }

            if (jwt is not null)
            {
                outputs.AddRange(jwt.Svids.Select((s, i) => ($"{ConfigSchema.JwtSvidsKey}[{i}].jwt_svid_file_name", s.FileName)));
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
        }
    }
}
