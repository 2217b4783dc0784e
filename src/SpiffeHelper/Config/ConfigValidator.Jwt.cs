namespace SpiffeHelper.Config;

internal static partial class ConfigLoader
{
    private sealed partial class Validator
    {
        private JwtOutputOptions? Jwt(HelperConfigFile model)
        {
            var svids = new List<JwtSvidOutput>();
            for (var i = 0; i < (model.JwtSvids?.Count ?? 0); i++)
            {
                var item = model.JwtSvids![i];
                var prefix = $"{ConfigSchema.JwtSvidsKey}[{i}]";
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

                // A misspelt key in the item is already reported with the nearest name: no second error for it.
                var misspelt = errors.Any(e => e.Key is { } k && k.StartsWith(prefix + ".", StringComparison.Ordinal) && e.Reason.StartsWith("unknown key", StringComparison.Ordinal));
                if (string.IsNullOrEmpty(item.JwtAudience) && !misspelt)
                {
                    Error(prefix, "jwt_audience is missing or empty: every JWT-SVID needs the audience it is for");
                }

                if (string.IsNullOrEmpty(item.JwtSvidFileName) && !misspelt)
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

            if (svids.Count > 0)
            {
                WarnIfSecretReadable("jwt_svid_file_mode", svidMode, "the JWT-SVIDs (bearer tokens)");
            }

            return new JwtOutputOptions(svids, bundleFileName, format, svidMode, bundleMode, model.SignalOnJwtUpdate ?? false);
        }
    }
}
