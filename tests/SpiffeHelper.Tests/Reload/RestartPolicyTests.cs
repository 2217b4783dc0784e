using Spiffe.Testing;
using SpiffeHelper.Tests.EndToEnd;

namespace SpiffeHelper.Tests.Reload;

public sealed class RestartPolicyTests : IAsyncLifetime, IDisposable
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

    /// <summary>A cmd that records its start and exits at once with code 3.</summary>
    private string CrashingCmd(out string log)
    {
        var script = _dir.Combine("crash.sh");
        log = _dir.Combine("crash.log");
        File.WriteAllText(script, "echo started >> \"$1\"\nexit 3\n");
        return $"cmd = \"/bin/bash\"\ncmd_args = \"{script} {log}\"\nrenew_signal = \"SIGHUP\"\n";
    }

    private static int Starts(string log) => File.Exists(log) ? File.ReadAllLines(log).Length : 0;

    [Fact(Timeout = 30_000)]
    public async Task Run_AlwaysPolicy_RestartsTheExitedChildWithoutWaitingForAnUpdate()
    {
        _api.State.SetX509Response(_ca.Response(_ca.Issue("/web")));

        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + CrashingCmd(out var log) + "cmd_restart_policy = \"always\"\n");

        await Wait.UntilAsync(() => Starts(log) >= 3, "two restarts (after 1 s and 2 s)");
        Assert.Equal(0, await helper.StopAsync());
    }

    [Fact(Timeout = 30_000)]
    public async Task Run_OnRenewalPolicy_RestartsTheExitedChildAtTheNextUpdateOnly()
    {
        _api.State.SetX509Response(_ca.Response(_ca.Issue("/web")));
        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + CrashingCmd(out var log));
        await Wait.UntilAsync(() => Starts(log) == 1, "the first start");

        await Task.Delay(1500);
        Assert.Equal(1, Starts(log));

        _api.State.SetX509Response(_ca.Response(_ca.Issue("/web")));
        await Wait.UntilAsync(() => Starts(log) == 2, "the restart at the next update");
    }

    [Fact(Timeout = 30_000)]
    public async Task Run_NeverPolicy_LeavesTheExitedChildStopped()
    {
        _api.State.SetX509Response(_ca.Response(_ca.Issue("/web")));
        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + CrashingCmd(out var log) + "cmd_restart_policy = \"never\"\n");
        await Wait.UntilAsync(() => Starts(log) == 1, "the first start");

        var next = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(next));
        await Wait.UntilAsync(() => File.ReadAllText(helper.PathOf("svid.pem")).StartsWith(Scenario.LeafPem(next), StringComparison.Ordinal), "the update");
        await Task.Delay(1500);

        Assert.Equal(1, Starts(log));
    }
}
