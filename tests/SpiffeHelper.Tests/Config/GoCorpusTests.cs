using System.Globalization;
using System.Text;
using SpiffeHelper.Config;

namespace SpiffeHelper.Tests.Config;

/// <summary>
/// The Go-style corpus (Config/GoCorpus): configs written by us in the Go spiffe-helper's layouts and
/// syntax. Each <c>name.conf</c> (or <c>.toml</c>) has a <c>name.expected</c> listing, field by field, every
/// option that differs from the defaults (what a minimal file gives), every warning (<c>warning=line:key:text</c>)
/// and, for bad files, every error (<c>error=line:key:text</c>, <c>-</c> for no key). Nothing else may differ.
/// </summary>
public sealed class GoCorpusTests
{
    public const string WorkingDirectory = "/work";

    private static readonly Dictionary<string, string> Environment = new(StringComparer.Ordinal)
    {
        ["SOCKET"] = "unix:///run/agent.sock",
        ["AUDIENCE"] = "api",
        ["HINT"] = "from-environment",
        ["HOME"] = "/root",
    };

    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Config", "GoCorpus");

    public static TheoryData<string> GoodFiles() => Files(bad: false);

    public static TheoryData<string> BadFiles() => Files(bad: true);

    private static TheoryData<string> Files(bool bad)
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Folder).Where(f => !f.EndsWith(".expected", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            if (Path.GetFileName(file).StartsWith("bad-", StringComparison.Ordinal) == bad)
            {
                data.Add(Path.GetFileName(file));
            }
        }

        return data;
    }

    internal static ConfigLoadResult Load(string name) =>
        ConfigLoader.Parse(File.ReadAllText(Path.Combine(Folder, name)), name, n => Environment.GetValueOrDefault(n), null, WorkingDirectory);

    private static string[] Expected(string name) =>
        [.. File.ReadAllLines(Path.Combine(Folder, Path.ChangeExtension(name, ".expected"))).Where(l => l.Length > 0)];

    [Fact]
    public void Corpus_HasAtLeastFifteenGoodAndSomeBadConfigs()
    {
        Assert.True(GoodFiles().Count >= 15, $"{GoodFiles().Count} good configs");
        Assert.True(BadFiles().Count >= 5, $"{BadFiles().Count} bad configs");
    }

    [Theory]
    [MemberData(nameof(GoodFiles))]
    public void Load_GoStyleConfig_GivesTheExpectedOptionsFieldByField(string name)
    {
        var result = Load(name);

        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors));
        var defaults = Describe(ConfigLoader.Parse("svid_file_name = \"svid.pem\"\nsvid_key_file_name = \"svid_key.pem\"\nsvid_bundle_file_name = \"bundle.pem\"\n", "defaults", _ => null, null, WorkingDirectory));
        defaults["syntax"] = "always listed";
        foreach (var (key, value) in new[] { ("jwt.svids", ""), ("jwt.bundle", "-"), ("jwt.bundle_format", "Go"), ("jwt.svid_mode", "0600"), ("jwt.bundle_mode", "0600"), ("jwt.signal_on_update", "False") })
        {
            defaults[key] = value;
        }

        var actual = Describe(result);
        var differences = actual.Where(kv => !defaults.TryGetValue(kv.Key, out var d) || d != kv.Value).Select(kv => $"{kv.Key}={kv.Value}").ToList();
        var expected = Expected(name).Where(l => !l.StartsWith("warning=", StringComparison.Ordinal)).ToList();
        Assert.Equal(expected.Order(StringComparer.Ordinal), differences.Order(StringComparer.Ordinal));

        var expectedWarnings = Expected(name).Where(l => l.StartsWith("warning=", StringComparison.Ordinal)).Select(l => l["warning=".Length..]).ToList();
        AssertMatches(expectedWarnings, result.Warnings, name);
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Load_BadGoStyleConfig_ReportsEveryErrorWithLineAndKey(string name)
    {
        var result = Load(name);

        Assert.Null(result.Options);
        var expected = Expected(name).Where(l => l.StartsWith("error=", StringComparison.Ordinal)).Select(l => l["error=".Length..]).ToList();
        AssertMatches(expected, result.Errors, name);
        Assert.All(result.Errors, e => Assert.StartsWith($"{name}:{e.Line}: ", e.ToString(), StringComparison.Ordinal));
    }

    /// <summary>Each expected <c>line:key:text</c> matches exactly one report, and every report is expected.</summary>
    private static void AssertMatches(List<string> expected, IReadOnlyList<ConfigError> reports, string name)
    {
        var all = string.Join("\n", reports);
        Assert.True(expected.Count == reports.Count, $"{name}: expected {expected.Count} report(s), got:\n{all}");
        foreach (var line in expected)
        {
            var parts = line.Split(':', 3);
            var key = parts[1] == "-" ? null : parts[1];
            Assert.True(
                reports.Count(r => r.Line == int.Parse(parts[0], CultureInfo.InvariantCulture) && r.Key == key && r.Reason.Contains(parts[2], StringComparison.Ordinal)) == 1,
                $"{name}: no report {line} among:\n{all}");
        }
    }

    /// <summary>Every field of the options, one line each, with the syntax the file was read as.</summary>
    internal static Dictionary<string, string> Describe(ConfigLoadResult result)
    {
        var o = result.Options!;
        var d = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["syntax"] = result.Syntax.ToString(),
            ["agent_address"] = o.AgentAddress.SocketPath ?? o.AgentAddress.Text,
            ["cmd"] = o.Cmd ?? "-",
            ["cmd_args"] = "[" + string.Join(",", o.CmdArgs.Select(a => "\"" + a + "\"")) + "]",
            ["cmd_restart_policy"] = o.CmdRestartPolicy.ToString(),
            ["cmd_stop_timeout"] = o.CmdStopTimeout.ToString("c", CultureInfo.InvariantCulture),
            ["pid_file_name"] = o.PidFileName ?? "-",
            ["cert_dir"] = o.CertDir,
            ["renew_signal"] = o.RenewSignal?.Name ?? "-",
            ["omit_expired"] = o.OmitExpired.ToString(),
            ["cert_mode"] = ConfigValues.FormatMode(o.CertFileMode),
            ["key_mode"] = ConfigValues.FormatMode(o.KeyFileMode),
            ["hint"] = Escape(o.Hint),
            ["daemon_mode"] = o.DaemonMode.ToString(),
            ["one_shot_timeout"] = o.OneShotTimeout.ToString("c", CultureInfo.InvariantCulture),
            ["write_strategy"] = o.WriteStrategy.ToString(),
            ["write_strategy_explicit"] = o.WriteStrategyIsExplicit.ToString(),
            ["log_level"] = o.LogLevel.ToString(),
            ["log_format"] = o.LogFormat.ToString(),
            ["health.enabled"] = o.Health.Enabled.ToString(),
            ["health.port"] = o.Health.BindPort.ToString(CultureInfo.InvariantCulture),
            ["health.live"] = o.Health.LivenessPath,
            ["health.ready"] = o.Health.ReadinessPath,
            ["health.metrics"] = o.Health.MetricsPath,
            ["x509"] = o.X509 is null ? "none" : "on",
            ["jwt"] = o.Jwt is null ? "none" : "on",
        };
        if (o.X509 is { } x)
        {
            d["x509.svid"] = x.SvidFileName;
            d["x509.key"] = x.KeyFileName;
            d["x509.bundle"] = x.BundleFileName;
            d["x509.add_intermediates"] = x.AddIntermediatesToBundle.ToString();
            d["x509.include_federated"] = x.IncludeFederatedDomains.ToString();
            d["x509.combined"] = x.CombinedFileName ?? "-";
            d["x509.trust_bundles_dir"] = x.TrustBundlesDirName ?? "-";
            d["x509.pkcs12"] = x.Pkcs12 is { } p ? $"{p.KeystoreFileName ?? "-"}|{p.TruststoreFileName ?? "-"}|{p.PasswordFile ?? "-"}" : "-";
        }

        if (o.Jwt is { } j)
        {
            d["jwt.svids"] = string.Join(";", j.Svids.Select(s => $"{s.Audience}[{string.Join(",", s.ExtraAudiences)}]>{s.FileName}"));
            d["jwt.bundle"] = j.BundleFileName ?? "-";
            d["jwt.bundle_format"] = j.BundleFormat.ToString();
            d["jwt.svid_mode"] = ConfigValues.FormatMode(j.SvidFileMode);
            d["jwt.bundle_mode"] = ConfigValues.FormatMode(j.BundleFileMode);
            d["jwt.signal_on_update"] = j.SignalOnUpdate.ToString();
        }

        return d;
    }

    private static string Escape(string text)
    {
        var builder = new StringBuilder();
        foreach (var c in text)
        {
            builder.Append(c switch { '\n' => "\\n", '\t' => "\\t", '\\' => "\\\\", _ => c.ToString() });
        }

        return builder.ToString();
    }
}
