using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using Spiffe.Testing;

namespace SpiffeHelper.Tests.EndToEnd;

/// <summary>The Native AOT binary against a tampered or half-written cert_dir, odd umasks, a pid file that is not one, and SIGKILL.</summary>
public sealed partial class PublishedBinaryHardeningTests : IAsyncLifetime, IDisposable
{
    private static readonly UnixFileMode Mode755 = (UnixFileMode)Convert.ToInt32("755", 8);

    private readonly TempDir _dir = new();
    private readonly TempDir _outside = new();
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org", withIntermediate: true);
    private FakeWorkloadApi _api = null!;

    public async Task InitializeAsync() => _api = await FakeWorkloadApi.StartAsync().WaitAsync(Wait.Default);

    public async Task DisposeAsync() => await _api.DisposeAsync();

    public void Dispose()
    {
        _ca.Dispose();
        _dir.Dispose();
        _outside.Dispose();
    }

    private string CertDir => _dir.Combine("certs");

    private string WriteConfig(string body)
    {
        var path = _dir.Combine("helper.conf");
        File.WriteAllText(path, $"cert_dir = \"{CertDir}\"\n" + Scenario.AgentConfig(_api) + body);
        return path;
    }

    private HelperProcess Start(string config, string? umask = null) => umask is null
        ? new HelperProcess(PublishedHelperBinary.Get(), _dir.Path, "-config", config)
        : new HelperProcess("/bin/sh", _dir.Path, "-c", $"umask {umask}; exec \"$0\" -config \"$1\"", PublishedHelperBinary.Get(), config);

    private static int RunAsNobody(string command, string path) => Posix.Run("runuser", "-u", "nobody", "--", command, path);

    [Theory(Timeout = 360_000)]
    [InlineData("000")]
    [InlineData("077")]
    public async Task Binary_UnderUmask_CreatesDirectories0755SoAnotherUserReadsTheCertificateButNotTheKey(string umask)
    {
        File.SetUnixFileMode(_dir.Path, Mode755);
        _api.State.SetX509Response(_ca.Response(_ca.Issue("/web")));
        var config = WriteConfig("daemon_mode = false\ntrust_bundles_dir_name = \"bundles\"\n");

        using var helper = Start(config, umask);
        var (code, _, stderr) = await helper.WaitAsync(TimeSpan.FromMinutes(1));

        Assert.True(code == 0, stderr);
        var generation = Path.Combine(CertDir, new FileInfo(Path.Combine(CertDir, "..data")).LinkTarget!);
        foreach (var directory in new[] { CertDir, generation, Path.Combine(generation, "bundles") })
        {
            Assert.True(Mode755 == File.GetUnixFileMode(directory), $"{directory} has mode {Convert.ToString((int)File.GetUnixFileMode(directory), 8)} under umask {umask}");
        }

        Assert.Equal(0, RunAsNobody("cat", Path.Combine(CertDir, "svid.pem")));
        Assert.Equal(0, RunAsNobody("cat", Path.Combine(CertDir, "bundles", "example.org.pem")));
        Assert.NotEqual(0, RunAsNobody("cat", Path.Combine(CertDir, "svid_key.pem")));
    }

    [Fact(Timeout = 360_000)]
    public async Task Binary_RenameWithBundlesFolderLinkedOutside_RefusesAtStartUpNamingThePathAndTheVictimSurvives()
    {
        var victim = _outside.Combine("victim.txt");
        File.WriteAllText(victim, "not the helper's\n");
        Directory.CreateDirectory(CertDir);
        File.CreateSymbolicLink(Path.Combine(CertDir, "bundles"), _outside.Path);
        _api.State.SetX509Response(_ca.Response(_ca.Issue("/web")));

        using var helper = Start(WriteConfig("write_strategy = \"rename\"\ntrust_bundles_dir_name = \"bundles\"\n"));
        var (code, _, stderr) = await helper.WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(ExitCodes.RuntimeFailure, code);
        Assert.Contains($"\"{Path.Combine(CertDir, "bundles")}\" is a symbolic link to \"{_outside.Path}\"", stderr, StringComparison.Ordinal);
        Assert.Equal("not the helper's\n", File.ReadAllText(victim));
        Assert.Equal(["victim.txt"], Directory.EnumerateFileSystemEntries(_outside.Path).Select(Path.GetFileName));
        Assert.False(File.Exists(Path.Combine(CertDir, "svid_key.pem")));
    }

    [Fact(Timeout = 360_000)]
    public async Task Binary_AtomicDirOverARenameBundlesFolderWithForeignFiles_RefusesAtStartUpNamingThePath()
    {
        _api.State.SetX509Response(_ca.Response(_ca.Issue("/web")));
        using (var rename = Start(WriteConfig("daemon_mode = false\nwrite_strategy = \"rename\"\ntrust_bundles_dir_name = \"bundles\"\n")))
        {
            var (renameCode, _, renameErr) = await rename.WaitAsync(TimeSpan.FromMinutes(1));
            Assert.True(renameCode == 0, renameErr);
        }

        var foreign = Path.Combine(CertDir, "bundles", "extra-ca.crt");
        File.WriteAllText(foreign, "operator's file\n");

        using var helper = Start(WriteConfig("write_strategy = \"atomic_dir\"\ntrust_bundles_dir_name = \"bundles\"\n"));
        var (code, _, stderr) = await helper.WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(ExitCodes.RuntimeFailure, code);
        Assert.Contains($"\"{Path.Combine(CertDir, "bundles")}\" is a directory holding \"{foreign}\"", stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(CertDir, "..data")) || new FileInfo(Path.Combine(CertDir, "..data")).LinkTarget is not null, "nothing was switched");
        Assert.Empty(Directory.EnumerateDirectories(CertDir, "..*"));
        Assert.Equal("operator's file\n", File.ReadAllText(foreign));
    }

    [Fact(Timeout = 360_000)]
    public async Task Binary_SigkilledRenameRun_TempKeyCopiesAreRemovedAtStartUpAndAfterEachWrite()
    {
        var first = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(first));
        var config = WriteConfig("write_strategy = \"rename\"\ntrust_bundles_dir_name = \"bundles\"\n");
        using (var killed = Start(config))
        {
            await Wait.UntilAsync(() => File.Exists(Path.Combine(CertDir, "svid_key.pem")), "the first write");
            Assert.Equal(0, Kill(killed.Id, 9));
            await killed.WaitAsync();
        }

        // What a SIGKILL between the temp file's creation and its rename leaves: a private-key copy under the helper's temp name.
        string[] leftovers = [Path.Combine(CertDir, ".svid_key.pem.tmp-0123abcd"), Path.Combine(CertDir, "bundles", ".example.org.pem.tmp-89abcdef")];
        foreach (var leftover in leftovers)
        {
            File.Copy(Path.Combine(CertDir, "svid_key.pem"), leftover);
        }

        var operatorFile = Path.Combine(CertDir, "notes.txt");
        File.WriteAllText(operatorFile, "keep\n");

        using var helper = Start(config);
        await Wait.UntilAsync(() => leftovers.All(l => !File.Exists(l)), "the leftovers to be removed at start-up");
        Assert.True(File.Exists(operatorFile));

        var later = Path.Combine(CertDir, ".svid_key.pem.tmp-fedcba98");
        File.WriteAllText(later, "-----BEGIN PRIVATE KEY-----\n");
        var second = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(second));
        await Wait.UntilAsync(() => File.ReadAllText(Path.Combine(CertDir, "svid.pem")).StartsWith(Scenario.LeafPem(second), StringComparison.Ordinal), "the rotation");
        await Wait.UntilAsync(() => !File.Exists(later), "the leftover to be removed after the write");

        Assert.Equal(0, Kill(helper.Id, 15));
        var (code, _, stderr) = await helper.WaitAsync();
        Assert.True(code == 0, stderr);
        Assert.Contains($"Removed {leftovers[0]}", stderr, StringComparison.Ordinal);
    }

    [Fact(Timeout = 360_000)]
    public async Task Binary_PidFileLinkedToDevZero_MemoryStaysBoundedRotationsContinueAndReadyShowsIt()
    {
        var pidFile = _dir.Combine("app.pid");
        File.CreateSymbolicLink(pidFile, "/dev/zero");
        var port = DaemonModeTests.FreePort();
        var first = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(first));
        using var helper = Start(WriteConfig($"renew_signal = \"SIGHUP\"\npid_file_name = \"{pidFile}\"\n[health_checks]\nlistener_enabled = true\nbind_port = {port}\n"));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };

        for (var n = 0; n < 5; n++)
        {
            var svid = n == 0 ? first : _ca.Issue("/web");
            _api.State.SetX509Response(_ca.Response(svid));
            await Wait.UntilAsync(() => File.Exists(Path.Combine(CertDir, "svid.pem")) && File.ReadAllText(Path.Combine(CertDir, "svid.pem")).StartsWith(Scenario.LeafPem(svid), StringComparison.Ordinal), $"rotation {n}");
        }

        Assert.False(helper.HasExited);
        var rssKb = long.Parse(File.ReadAllLines($"/proc/{helper.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        Assert.True(rssKb < 150 * 1024, $"the helper uses {rssKb} kB");
        using var ready = await http.GetAsync(new Uri("/ready", UriKind.Relative)).WaitAsync(Wait.Default);
        var body = await ready.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("not a regular file", body, StringComparison.Ordinal);
        var metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative)).WaitAsync(Wait.Default);
        Assert.Contains("spiffe_helper_signal_undelivered{target=\"pid_file\"} 1", metrics, StringComparison.Ordinal);
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
