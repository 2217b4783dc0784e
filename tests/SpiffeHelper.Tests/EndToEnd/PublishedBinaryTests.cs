using System.Runtime.InteropServices;
using Spiffe.Testing;

namespace SpiffeHelper.Tests.EndToEnd;

/// <summary>The Native AOT binary, as a platform engineer runs it.</summary>
public sealed partial class PublishedBinaryTests : IAsyncLifetime, IDisposable
{
    private readonly TempDir _dir = new();
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org", withIntermediate: true);
    private FakeWorkloadApi _api = null!;

    public async Task InitializeAsync() => _api = await FakeWorkloadApi.StartAsync().WaitAsync(Wait.Default);

    public async Task DisposeAsync() => await _api.DisposeAsync();

    public void Dispose()
    {
        _ca.Dispose();
        _dir.Dispose();
    }

    private string WriteConfig(string body)
    {
        var path = _dir.Combine("helper.conf");
        File.WriteAllText(path, $"cert_dir = \"{_dir.Combine("certs")}\"\n" + body);
        return path;
    }

    [Fact(Timeout = 360_000)]
    public async Task Binary_VersionAndHelp_PrintAndExitZero()
    {
        using var version = new HelperProcess(PublishedHelperBinary.Get(), _dir.Path, "--version");
        var (code, stdout, _) = await version.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.Equal(0, code);
        // Version from Directory.Build.props, the commit the binary was built from ("unknown" without .git).
        Assert.Matches(@"^spiffe-helper 0\.2\.0 \(commit ([0-9a-f]{7}|unknown)\)\r?\n", stdout);

        using var help = new HelperProcess(PublishedHelperBinary.Get(), _dir.Path, "-help");
        (code, stdout, _) = await help.WaitAsync();
        Assert.Equal(0, code);
        Assert.Contains("-daemon-mode", stdout);
    }

    [Fact(Timeout = 360_000)]
    public async Task Binary_BadConfig_ExitsTwoNamingFileAndKeysAndStartsNothing()
    {
        var child = new CountingProcess(_dir, "child");
        var config = WriteConfig(Scenario.AgentConfig(_api) + child.AsCmd + "renew_signal = \"SIGHIP\"\nkey_file_mode = 0o7777\ncert_dir_mode = 1\n");

        using var helper = new HelperProcess(PublishedHelperBinary.Get(), _dir.Path, "-config", config);
        var (code, _, stderr) = await helper.WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(ExitCodes.ConfigError, code);
        Assert.Contains($"{config}:10: key \"cert_dir_mode\": unknown key", stderr);
        Assert.Contains($"{config}:8: key \"renew_signal\": \"SIGHIP\" is not a supported signal name", stderr);
        Assert.Contains($"{config}:9: key \"key_file_mode\": 0o7777 is not a file mode", stderr);
        Assert.Contains("nothing was started", stderr);
        Assert.False(Directory.Exists(_dir.Combine("certs")));
        Assert.False(child.Started);
        Assert.Equal(0, _api.State.Calls("FetchX509SVID"));
    }

    [Fact(Timeout = 360_000)]
    public async Task Binary_OneShot_WritesTheFilesAndExitsZero()
    {
        var svid = _ca.Issue("/init");
        _api.State.SetX509Response(_ca.Response(svid));
        var config = WriteConfig(Scenario.AgentConfig(_api) + "daemon_mode = false\nlog_format = \"json\"\n");

        using var helper = new HelperProcess(PublishedHelperBinary.Get(), _dir.Path, "-config", config);
        var (code, _, stderr) = await helper.WaitAsync(TimeSpan.FromMinutes(1));

        Assert.True(code == 0, stderr);
        Assert.True(Scenario.PairMatches(_dir.Combine("certs", "svid.pem"), _dir.Combine("certs", "svid_key.pem"), out var problem), problem);
        Assert.Contains("\"event_id\":201", stderr);
        Assert.Contains("\"level\":\"info\"", stderr);
        Assert.DoesNotContain("PRIVATE KEY", stderr);
    }

    [Fact(Timeout = 360_000)]
    public async Task Binary_Sigterm_StopsTheChildAndExitsZero()
    {
        var child = new CountingProcess(_dir, "child");
        var svid = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(svid));
        var config = WriteConfig(Scenario.AgentConfig(_api) + child.AsCmd + "renew_signal = \"SIGHUP\"\ncmd_stop_timeout = \"5s\"\n");

        using var helper = new HelperProcess(PublishedHelperBinary.Get(), _dir.Path, "-config", config);
        await Wait.UntilAsync(() => child.Started, "the child to start after the first write");
        Assert.True(child.IsAlive);

        Assert.Equal(0, Kill(helper.Id, 15));
        var (code, _, stderr) = await helper.WaitAsync();

        Assert.True(code == 0, stderr);
        Assert.True(child.Terminated, "the child got SIGTERM");
        await Wait.UntilAsync(() => !child.IsAlive, "the child to be gone");
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
