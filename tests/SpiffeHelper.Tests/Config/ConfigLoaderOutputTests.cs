using SpiffeHelper.Config;

namespace SpiffeHelper.Tests.Config;

/// <summary>The keys of the JWT, PKCS#12, combined-file and per-trust-domain outputs.</summary>
public sealed class ConfigLoaderOutputTests
{
    private const string File = "/etc/helper/helper.conf";
    private const string X509 = "svid_file_name = \"svid.pem\"\nsvid_key_file_name = \"svid_key.pem\"\nsvid_bundle_file_name = \"bundle.pem\"\n";

    private static ConfigLoadResult Parse(string text, Dictionary<string, string>? environment = null) =>
        ConfigLoader.Parse(text, File, name => environment is not null && environment.TryGetValue(name, out var v) ? v : null, null, "/work");

    [Fact]
    public void Parse_EveryNewKey_IsRead()
    {
        var text = X509 + """
            svid_combined_file_name = "credentials.pem"
            trust_bundles_dir_name = "bundles"
            pkcs12_keystore_file_name = "keystore.p12"
            pkcs12_truststore_file_name = "truststore.p12"
            pkcs12_password = "${STORE_PASSWORD}"
            jwt_svids = [
              { jwt_audience = "${API_AUDIENCE}", jwt_extra_audiences = ["audit", "${API_AUDIENCE}"], jwt_svid_file_name = "api.token" },
              { jwt_audience = "db", jwt_svid_file_name = "db.token" },
            ]
            jwt_svid_file_mode = 0o640
            jwt_bundle_file_name = "jwt_bundle.json"
            jwt_bundle_file_mode = "0644"
            jwt_bundle_format = "jwks"
            signal_on_jwt_update = true
            """;

        var result = Parse(text, new Dictionary<string, string> { ["API_AUDIENCE"] = "https://api.example", ["STORE_PASSWORD"] = "s3cret" });

        Assert.Empty(result.Errors);
        var options = result.Options!;
        var x509 = options.X509!;
        Assert.Equal("credentials.pem", x509.CombinedFileName);
        Assert.Equal("bundles", x509.TrustBundlesDirName);
        Assert.Equal(new Pkcs12Options("keystore.p12", "truststore.p12", "s3cret", null), x509.Pkcs12);
        var jwt = options.Jwt!;
        Assert.Equal(2, jwt.Svids.Count);
        Assert.Equal("https://api.example", jwt.Svids[0].Audience);
        Assert.Equal(["audit"], jwt.Svids[0].ExtraAudiences);
        Assert.Equal(["https://api.example", "audit"], jwt.Svids[0].Audiences);
        Assert.Equal("api.token", jwt.Svids[0].FileName);
        Assert.Equal(new JwtSvidOutput("db", [], "db.token").Audiences, jwt.Svids[1].Audiences);
        Assert.Equal("jwt_bundle.json", jwt.BundleFileName);
        Assert.Equal(JwtBundleFormat.Jwks, jwt.BundleFormat);
        Assert.Equal("0640", ConfigValues.FormatMode(jwt.SvidFileMode));
        Assert.Equal("0644", ConfigValues.FormatMode(jwt.BundleFileMode));
        Assert.True(jwt.SignalOnUpdate);
    }

    [Fact]
    public void Parse_JwtOnly_WithTableArraySyntaxAndDefaults()
    {
        var text = """
            jwt_bundle_file_name = "bundle.json"

            [[jwt_svids]]
            jwt_audience = "api"
            jwt_svid_file_name = "api.token"
            """;

        var result = Parse(text);

        Assert.Empty(result.Errors);
        Assert.Null(result.Options!.X509);
        var jwt = result.Options.Jwt!;
        Assert.Equal("api", Assert.Single(jwt.Svids).Audience);
        Assert.Equal(JwtBundleFormat.Go, jwt.BundleFormat);
        Assert.Equal("0600", ConfigValues.FormatMode(jwt.SvidFileMode));
        Assert.Equal("0600", ConfigValues.FormatMode(jwt.BundleFileMode));
        Assert.False(jwt.SignalOnUpdate);
    }

    [Fact]
    public void Parse_PasswordFile_IsResolvedAgainstTheWorkingDirectory()
    {
        var result = Parse(X509 + "pkcs12_keystore_file_name = \"ks.p12\"\npkcs12_password_file = \"secrets/pw\"\n");

        Assert.Equal("/work/secrets/pw", result.Options!.X509!.Pkcs12!.PasswordFile);
        Assert.Null(result.Options.X509.Pkcs12.Password);
    }

    [Fact]
    public void Parse_ManyProblemsInNewKeys_ReportsEveryOneAtOnceWithItsLine()
    {
        var text = X509 + """
            jwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "svid.pem" }, { jwt_svid_file_name = "b.token" }, { jwt_audence = "x", jwt_svid_file_name = "c.token" }]
            jwt_bundle_format = "pem"
            pkcs12_keystore_file_name = "ks.p12"
            pkcs12_password = "pw"
            pkcs12_password_file = "/run/pw"
            trust_bundles_dir_name = "../bundles"
            jwt_svid_file_mode = 0o1777
            """;

        var result = Parse(text);

        Assert.Null(result.Options);
        var messages = result.Errors.Select(e => e.ToString()).ToList();
        Assert.Contains(messages, m => m.Contains("helper.conf:4: key \"jwt_svids[2].jwt_audence\": unknown key; did you mean \"jwt_audience\"", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("key \"jwt_bundle_format\": \"pem\" is not valid; use one of: go, jwks", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("key \"pkcs12_password_file\": is set together with pkcs12_password", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("key \"trust_bundles_dir_name\": \"../bundles\" must be a plain file name", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("key \"jwt_svid_file_mode\": 0o1777 is not a file mode", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("helper.conf:4: key \"jwt_svids[1]\": jwt_audience is missing", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("helper.conf:4: key \"jwt_svids[0].jwt_svid_file_name\": \"svid.pem\" is also the file name of svid_file_name", StringComparison.Ordinal));
        Assert.True(result.Errors.Count == 7, string.Join("\n", messages));
    }

    [Fact]
    public void Parse_JwtItemProblems_NameTheItem()
    {
        var text = X509 + """
            jwt_svids = [{ jwt_audience = "api", jwt_svid_file_name = "svid.pem" }, { jwt_svid_file_name = "b.token", jwt_extra_audiences = [""] }]
            """;

        var result = Parse(text);

        var messages = result.Errors.Select(e => e.ToString()).ToList();
        Assert.Contains(messages, m => m.Contains("helper.conf:4: key \"jwt_svids[1]\": jwt_audience is missing or empty", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("key \"jwt_svids[1].jwt_extra_audiences\": must not contain an empty audience", StringComparison.Ordinal));
        Assert.Contains(messages, m => m.Contains("key \"jwt_svids[0].jwt_svid_file_name\": \"svid.pem\" is also the file name of svid_file_name", StringComparison.Ordinal));
        Assert.Equal(3, result.Errors.Count);
    }

    [Theory]
    [InlineData("jwt_svids = \"api\"", "jwt_svids", "must be an array of tables")]
    [InlineData("jwt_svids = [{ jwt_audience = \"a\", jwt_svid_file_name = \"a\", jwt_extra_audiences = \"b\" }]", "jwt_svids[0].jwt_extra_audiences", "must be an array of strings")]
    [InlineData("pkcs12_truststore_file_name = \"ts.p12\"", "pkcs12_truststore_file_name", "needs a password: set pkcs12_password")]
    [InlineData("pkcs12_password = \"\"\npkcs12_keystore_file_name = \"ks.p12\"", "pkcs12_password", "must not be empty")]
    [InlineData("pkcs12_password_file = \"/pw\"", "pkcs12_password_file", "neither pkcs12_keystore_file_name nor pkcs12_truststore_file_name")]
    [InlineData("jwt_svids = [{ jwt_audience = \"${AUD}\", jwt_svid_file_name = \"a.token\" }]", "jwt_svids[0].jwt_audience", "environment variable \"AUD\" is not set")]
    public void Parse_BadNewKey_NamesItAndWhatIsValid(string line, string key, string reason)
    {
        var result = Parse(X509 + line);

        var error = Assert.Single(result.Errors);
        Assert.Equal(key, error.Key);
        Assert.NotNull(error.Line);
        Assert.Contains(reason, error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TheExampleFile_ParsesWithEveryKeyAtItsDefault()
    {
        var text = System.IO.File.ReadAllText(Path.Combine(Spiffe.Testing.ProcessRunner.RepositoryRoot, "helper.conf.example"));

        var result = Parse(text);

        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Null(result.Options!.Jwt);
        Assert.Null(result.Options.X509!.Pkcs12);
        Assert.Null(result.Options.X509.CombinedFileName);
        Assert.Null(result.Options.X509.TrustBundlesDirName);
    }

    [Fact]
    public void Parse_X509ExtrasWithoutX509Output_SaysWhatIsMissing()
    {
        var result = Parse("svid_combined_file_name = \"creds.pem\"\njwt_bundle_file_name = \"b.json\"");

        var error = Assert.Single(result.Errors);
        Assert.Equal("svid_combined_file_name", error.Key);
        Assert.Contains("needs the X.509 output", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_JwtOnlyWithCmdButNoJwtSignal_ExplainsWhyCmdWouldNeverStart()
    {
        var result = Parse("jwt_bundle_file_name = \"b.json\"\ncmd = \"/bin/app\"");

        var error = Assert.Single(result.Errors);
        Assert.Equal("cmd", error.Key);
        Assert.Contains("signal_on_jwt_update = true", error.Reason, StringComparison.Ordinal);
    }
}
