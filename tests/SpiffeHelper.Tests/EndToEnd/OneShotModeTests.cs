using Spiffe.Testing;

namespace SpiffeHelper.Tests.EndToEnd;

public sealed class OneShotModeTests : IAsyncLifetime, IDisposable
{
    private readonly TempDir _dir = new();
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org");
    private FakeWorkloadApi _api = null!;

    public async Task InitializeAsync() => _api = await FakeWorkloadApi.StartAsync().WaitAsync(Wait.Default);

    public async Task DisposeAsync() => await _api.DisposeAsync();

    public void Dispose()
    {
        _ca.Dispose();
        _dir.Dispose();
    }

    [Fact(Timeout = 30_000)]
    public async Task Run_DaemonModeFalse_WritesOnceAndExitsZeroWithoutStartingCmd()
    {
        var child = new CountingProcess(_dir, "child");
        var svid = _ca.Issue("/init");
        _api.State.SetX509Response(_ca.Response(svid));

        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + child.AsCmd + "daemon_mode = false\n");

        Assert.Equal(ExitCodes.Success, await helper.Run.WaitAsync(Wait.Default));
        Assert.True(Scenario.PairMatches(helper.PathOf("svid.pem"), helper.PathOf("svid_key.pem"), out var problem), problem);
        Assert.False(child.Started);
    }

    [Fact(Timeout = 30_000)]
    public async Task Run_CommandLineOverride_RunsOneShotEvenIfTheFileSaysDaemon()
    {
        var svid = _ca.Issue("/init");
        _api.State.SetX509Response(_ca.Response(svid));

        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + "daemon_mode = true\n", null, "-daemon-mode=false");

        Assert.Equal(ExitCodes.Success, await helper.Run.WaitAsync(Wait.Default));
        Assert.True(File.Exists(helper.PathOf("bundle.pem")));
    }

    [Fact(Timeout = 30_000)]
    public async Task Run_NoSvidBeforeTheTimeout_ExitsWithTheTimeoutCode()
    {
        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + "daemon_mode = false\none_shot_timeout = \"1s\"\n");

        Assert.Equal(ExitCodes.OneShotTimeout, await helper.Run.WaitAsync(Wait.Default));
        Assert.False(File.Exists(helper.PathOf("svid.pem")));
    }

    [Fact(Timeout = 30_000)]
    public async Task Run_FilesCannotBeWritten_ExitsWithTheWriteFailureCode()
    {
        var svid = _ca.Issue("/init");
        _api.State.SetX509Response(_ca.Response(svid));
        var certs = _dir.Combine("certs");
        Directory.CreateDirectory(certs);
        Posix.SetImmutable(certs, true);
        try
        {
            await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + "daemon_mode = false\none_shot_timeout = \"2s\"\n");

            Assert.Equal(ExitCodes.OneShotWriteFailed, await helper.Run.WaitAsync(Wait.Default));
        }
        finally
        {
            Posix.SetImmutable(certs, false);
        }
    }
}
