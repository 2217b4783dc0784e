using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using SpiffeHelper.Config;
using SpiffeHelper.Reload;
using SpiffeHelper.Tests.EndToEnd;

namespace SpiffeHelper.Tests.Reload;

public sealed class PidFileSignallerTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact(Timeout = 30_000)]
    public async Task Request_PidFileMissingUntilTheAppStarts_RetriesInTheBackgroundWarnsOnceThenSignals()
    {
        var app = new CountingProcess(_dir, "app");
        var time = new FakeTimeProvider();
        var logger = new CapturingLogger<PidFileSignaller>();
        var health = new SpiffeHelper.Health.HealthState([], time);
        var signaller = new PidFileSignaller(app.PidPath, new RenewSignal("SIGHUP", 1), time, logger, health: health);
        using var stop = new CancellationTokenSource();
        var run = signaller.RunAsync(stop.Token);

        var requested = Stopwatch.StartNew();
        signaller.Request();
        Assert.True(requested.ElapsedMilliseconds < 100, "Request returns at once");

        await Wait.UntilAsync(() => logger.Count(312) == 1, "the first failure to be logged");

        // The app is not running yet: it will read the current files when it starts, so readiness stays, with the reason.
        var waiting = health.Report();
        Assert.True(waiting.Ready);
        Assert.Contains("cannot read the pid file", waiting.Reason);
        await Wait.UntilAsync(() => Advance(time) && logger.Count(313) >= 3, "three more attempts with backoff");

        using var process = app.StartDirectly();
        await Wait.UntilAsync(() => File.Exists(app.PidPath), "the app to write its pid");
        await Wait.UntilAsync(() => Advance(time) && app.Hups == 1, "the app to get SIGHUP on a later retry");
        await Wait.UntilAsync(() => logger.Count(314) == 1, "the recovery to be logged");

        Assert.Equal(1, logger.Count(LogLevel.Warning));
        Assert.Contains("cannot read the pid file", logger.Entries.First(e => e.EventId == 312).Message);

        // A later renewal is signalled by the loop at once, without any retry.
        signaller.Request();
        await Wait.UntilAsync(() => logger.Count(311) == 1, "the signal of the later renewal");
        await Wait.UntilAsync(() => app.Hups == 2, "the second SIGHUP");
        Assert.Equal(1, logger.Count(312));

        await stop.CancelAsync();
        await run.WaitAsync(Wait.Default);
        process.Kill();
    }

    [Fact(Timeout = 30_000)]
    public async Task Request_PidOfADeadProcess_SaysSoAndKeepsRetrying()
    {
        using var finished = Process.Start("/bin/true")!;
        await finished.WaitForExitAsync().WaitAsync(Wait.Default);
        var pidFile = _dir.Combine("dead.pid");
        File.WriteAllText(pidFile, finished.Id + "\n");
        var time = new FakeTimeProvider();
        var logger = new CapturingLogger<PidFileSignaller>();
        var signaller = new PidFileSignaller(pidFile, new RenewSignal("SIGUSR1", 10), time, logger);
        using var stop = new CancellationTokenSource();
        var run = signaller.RunAsync(stop.Token);

        signaller.Request();

        await Wait.UntilAsync(() => logger.Count(312) == 1, "the failure to be logged");
        Assert.Contains($"no process with pid {finished.Id}", logger.Entries.First(e => e.EventId == 312).Message);
        await Wait.UntilAsync(() => Advance(time) && logger.Count(313) >= 2, "retries");
        Assert.Equal(1, logger.Count(LogLevel.Warning));
        await stop.CancelAsync();
        await run.WaitAsync(Wait.Default);
    }

    [Theory(Timeout = 30_000)]
    [InlineData("fifo")]
    [InlineData("dev-zero-link")]
    [InlineData("oversized")]
    public async Task Request_PidFileIsNotASmallRegularFile_FailsAtOnceWithTheReasonWithoutBlocking(string kind)
    {
        var pidFile = _dir.Combine("app.pid");
        var expected = "not a regular file";
        switch (kind)
        {
            case "fifo":
                Assert.Equal(0, Posix.Run("mkfifo", pidFile));
                break;
            case "dev-zero-link":
                File.CreateSymbolicLink(pidFile, "/dev/zero");
                break;
            default:
                File.WriteAllText(pidFile, new string('1', 4096));
                expected = $"larger than {PidFileSignaller.MaxPidFileBytes} bytes";
                break;
        }

        var time = new FakeTimeProvider();
        var logger = new CapturingLogger<PidFileSignaller>();
        var health = new SpiffeHelper.Health.HealthState([], time);
        var signaller = new PidFileSignaller(pidFile, new RenewSignal("SIGHUP", 1), time, logger, health: health);
        using var stop = new CancellationTokenSource();
        var run = signaller.RunAsync(stop.Token);

        signaller.Request();

        await Wait.UntilAsync(() => logger.Count(312) == 1, "the failure to be logged");
        Assert.Contains(expected, logger.Entries.First(e => e.EventId == 312).Message);
        var report = health.Report();
        Assert.False(report.Ready);
        Assert.Contains(expected, report.Reason);
        await Wait.UntilAsync(() => Advance(time) && logger.Count(313) >= 2, "retries that fail the same way, not a hang");
        await stop.CancelAsync();
        await run.WaitAsync(Wait.Default);
    }

    private static bool Advance(FakeTimeProvider time)
    {
        time.Advance(TimeSpan.FromSeconds(1));
        return true;
    }
}
