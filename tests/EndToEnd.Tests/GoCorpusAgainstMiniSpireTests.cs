using System.Text.RegularExpressions;
using EndToEnd.Tests.Support;
using Spiffe.Testing;

namespace EndToEnd.Tests;

/// <summary>One MiniSpire server and agent for every test of <see cref="GoCorpusAgainstMiniSpireTests"/>.</summary>
public sealed class CorpusMiniSpire : IAsyncLifetime
{
    public LocalMiniSpire Stack { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Stack = await LocalMiniSpire.StartAsync(Path.Combine(AppContext.BaseDirectory, "minispire.dll"));
        await Stack.CreateEntryAsync("spiffe://example.org/corpus", "-selector", $"unix:uid:{Identity.Uid()}");
    }

    public async Task DisposeAsync() => await Stack.DisposeAsync();
}

/// <summary>
/// The Go-style corpus (SpiffeHelper.Tests/Config/GoCorpus) through the published Native AOT binary in
/// one-shot mode (<c>-daemon-mode=false</c>, Go's flag syntax) against MiniSpire: each config is used as
/// written except agent_address and cert_dir, which point at the test's agent and a fresh folder. The
/// written files, their modes, the log's warnings and the exit codes are checked; bad configs exit 2 with
/// file:line and key.
/// </summary>
public sealed partial class GoCorpusAgainstMiniSpireTests(CorpusMiniSpire fixture) : IClassFixture<CorpusMiniSpire>, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("hcl-corpus-");

    public void Dispose() => _root.Delete(recursive: true);

    private static string Corpus(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "GoCorpus", name));

    /// <summary>The corpus file with agent_address and cert_dir pointed at this test, saved under its own name.</summary>
    private string Prepare(string name, string certDir)
    {
        var text = Corpus(name);
        var socket = $"agent_address = \"{fixture.Stack.AgentSocket}\"";
        text = AgentAddressLine().IsMatch(text) ? AgentAddressLine().Replace(text, socket) : socket + "\n" + text;
        text = CertDirLine().Replace(text, $"cert_dir = \"{certDir}\"");
        var path = Path.Combine(_root.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static Task<ProcessResult> RunOneShotAsync(string config) =>
        ProcessRunner.RunAsync(PublishedHelperBinary.Get(), ["-config", config, "-daemon-mode=false"], Timeout);

    private static string Mode(string path) => "0" + Convert.ToString((int)File.GetUnixFileMode(path), 8);

    [Theory]
    [InlineData("04-mysql.conf", "server-cert.pem", "server-key.pem", "ca.pem", "0644", "0600")]
    [InlineData("05-mysql-integration.conf", "server-cert.pem", "server-key.pem", "ca.pem", "0644", "0644")]
    [InlineData("10-decimal-modes.conf", "svid.pem", "svid_key.pem", "svid_bundle.pem", "0674", "0674")]
    [InlineData("15-quoted-and-hex-modes.conf", "svid.pem", "svid_key.pem", "bundle.pem", "0640", "0600")]
    [InlineData("02-envoy.conf", "svid.pem", "svid_key.pem", "svid_bundle.pem", "0644", "0600")]
    [InlineData("06-postgres.conf", "server.crt", "server.key", "root.crt", "0644", "0600")]
    public async Task OneShot_GoStyleX509Config_WritesTheFilesWithTheirModesAndExitsZero(string name, string svid, string key, string bundle, string certMode, string keyMode)
    {
        var certs = Path.Combine(_root.FullName, "certs");
        var run = await RunOneShotAsync(Prepare(name, certs));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("-----BEGIN CERTIFICATE-----", await File.ReadAllTextAsync(Path.Combine(certs, svid)), StringComparison.Ordinal);
        Assert.Contains("-----BEGIN PRIVATE KEY-----", await File.ReadAllTextAsync(Path.Combine(certs, key)), StringComparison.Ordinal);
        Assert.Contains("-----BEGIN CERTIFICATE-----", await File.ReadAllTextAsync(Path.Combine(certs, bundle)), StringComparison.Ordinal);
        Assert.Equal(certMode, Mode(Path.Combine(certs, svid)));
        Assert.Equal(certMode, Mode(Path.Combine(certs, bundle)));
        Assert.Equal(keyMode, Mode(Path.Combine(certs, key)));
        if (keyMode != "0600")
        {
            Assert.Contains($"mode {keyMode} (", run.StandardError, StringComparison.Ordinal);
            Assert.Contains("read the private key", run.StandardError, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OneShot_DecimalModes_AreWarnedAboutAndAppliedToJwtFilesToo()
    {
        var certs = Path.Combine(_root.FullName, "certs");
        var run = await RunOneShotAsync(Prepare("10-decimal-modes.conf", certs));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("cert_file_mode\": 444 is a decimal number (the Go tool reads it so too): the mode is 0674", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("key \"cmd\": is set but daemon_mode is false", run.StandardError, StringComparison.Ordinal);
        Assert.Equal("0674", Mode(Path.Combine(certs, "jwt_svid.token")));
        Assert.Equal("0674", Mode(Path.Combine(certs, "jwt_bundle.json")));
        Assert.Equal(3, (await File.ReadAllTextAsync(Path.Combine(certs, "jwt_svid.token"))).Trim().Split('.').Length);
    }

    [Fact]
    public async Task OneShot_MultiLineJwtSvidList_WritesEveryTokenAndTheBundle()
    {
        var certs = Path.Combine(_root.FullName, "tokens");
        var run = await RunOneShotAsync(Prepare("08-jwt-multiline.conf", certs));

        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (var token in new[] { "orders.token", "inventory.token" })
        {
            Assert.Equal(3, (await File.ReadAllTextAsync(Path.Combine(certs, token))).Trim().Split('.').Length);
            Assert.Equal("0600", Mode(Path.Combine(certs, token)));
        }

        Assert.Contains("example.org", await File.ReadAllTextAsync(Path.Combine(certs, "jwt_bundle.json")), StringComparison.Ordinal);
        Assert.Equal("0644", Mode(Path.Combine(certs, "jwt_bundle.json")));
    }

    [Fact]
    public async Task OneShot_MySqlDataDirectoryAsCertDir_LeavesItsFilesAloneAndAddsNoDotDotEntries()
    {
        var dataDir = Path.Combine(_root.FullName, "mysql-data");
        Directory.CreateDirectory(Path.Combine(dataDir, "mysql"));
        await File.WriteAllTextAsync(Path.Combine(dataDir, "ibdata1"), "database");

        var run = await RunOneShotAsync(Prepare("04-mysql.conf", dataDir));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("using \"rename\"", run.StandardError, StringComparison.Ordinal);
        Assert.Equal(["ca.pem", "ibdata1", "mysql", "server-cert.pem", "server-key.pem"], Directory.EnumerateFileSystemEntries(dataDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Null(new FileInfo(Path.Combine(dataDir, "server-cert.pem")).LinkTarget);
        Assert.Equal("database", await File.ReadAllTextAsync(Path.Combine(dataDir, "ibdata1")));
    }

    [Theory]
    [InlineData("bad-06-timeouts.conf", "bad-06-timeouts.conf:4: key \"one_shot_timeout\": \"99999999999h\" is out of range; use a duration from 1ms to 576h (24 days)")]
    [InlineData("bad-01-unknown-keys.conf", "bad-01-unknown-keys.conf:1: key \"agent_adress\": unknown key; did you mean \"agent_address\"?")]
    [InlineData("bad-05-one-shot-pid-file.conf", "bad-05-one-shot-pid-file.conf:2: key \"pid_file_name\": is set but daemon_mode is false")]
    [InlineData("bad-04-illegal-octal.conf", "bad-04-illegal-octal.conf:4: not valid HCL: illegal octal number")]
    public async Task BadGoStyleConfig_ExitsTwoWithFileLineAndKeyAndStartsNothing(string name, string message)
    {
        var certs = Path.Combine(_root.FullName, "certs");
        var path = Path.Combine(_root.FullName, name);
        await File.WriteAllTextAsync(path, Corpus(name));

        var run = await RunOneShotAsync(path);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(_root.FullName + "/" + message, run.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(certs));
    }

    [Theory]
    [InlineData("a = " + "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[")]
    [InlineData("cmd_stop_timeout = \"2000h\"")]
    [InlineData("cmd = \"/no/such/program\"")]
    public async Task CrashInputOfIssue16_ExitsTwoInsteadOfCrashing(string line)
    {
        var config = Path.Combine(_root.FullName, "helper.conf");
        await File.WriteAllTextAsync(config, $"agent_address = \"{fixture.Stack.AgentSocket}\"\ncert_dir = \"{_root.FullName}/certs\"\nsvid_file_name = \"svid.pem\"\nsvid_key_file_name = \"svid_key.pem\"\nsvid_bundle_file_name = \"bundle.pem\"\n{line}\n");

        var run = await ProcessRunner.RunAsync(PublishedHelperBinary.Get(), ["-config", config], Timeout);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(config + ":6: ", run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", run.StandardError, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"^\s*""?agent_address""?\s*=.*$", RegexOptions.Multiline)]
    private static partial Regex AgentAddressLine();

    [GeneratedRegex(@"^\s*""?cert_dir""?\s*=.*$", RegexOptions.Multiline | RegexOptions.IgnoreCase)]
    private static partial Regex CertDirLine();
}
