using Microsoft.Extensions.Time.Testing;
using SpiffeHelper.Health;
using SpiffeHelper.Reload;

namespace SpiffeHelper.Tests.Health;

/// <summary>Outputs with their own schedule (JWT files) in the health report, and when the application hears of writes.</summary>
public sealed class HealthStateOutputsTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Report_TrackedOutput_ReadyOnlyWhileWrittenAndUnexpired()
    {
        var state = new HealthState(["svid.pem"], _time);
        state.Track("api.token");
        state.Written(_time.GetUtcNow().AddHours(1));

        var report = state.Report();
        Assert.False(report.Ready);
        Assert.Equal("not_written", report.FileWriteStatuses["api.token"]);
        Assert.Equal("written", report.FileWriteStatuses["svid.pem"]);

        state.OutputWritten("api.token", _time.GetUtcNow().AddMinutes(5));
        Assert.True(state.Report().Ready);

        _time.Advance(TimeSpan.FromMinutes(5));
        report = state.Report();
        Assert.False(report.Ready);
        Assert.Equal("the JWT-SVID in api.token has expired", report.Reason);
    }

    [Fact]
    public void Report_FailedOutput_NamesItAndItsReasonUntilWrittenAgain()
    {
        var state = new HealthState([], _time);
        state.Track("api.token");
        state.OutputWritten("api.token", _time.GetUtcNow().AddMinutes(5));
        Assert.True(state.Report().Ready);

        state.OutputFailed("api.token", "rejected", "audience mismatch");
        var report = state.Report();
        Assert.False(report.Ready);
        Assert.Equal("rejected", report.FileWriteStatuses["api.token"]);
        Assert.Equal("api.token: audience mismatch", report.Reason);

        state.OutputWritten("api.token", _time.GetUtcNow().AddMinutes(5));
        Assert.True(state.Report().Ready);
    }

    [Fact]
    public async Task Notifier_HoldsBackUntilEveryOutputIsWrittenThenNotifiesPerKind()
    {
        var notified = 0;
        var notifier = new UpdateNotifier(["x509", "api.token"], () =>
        {
            notified++;
            return Task.CompletedTask;
        });

        await notifier.WrittenAsync("x509", notifies: true);
        Assert.Equal(0, notified);
        await notifier.WrittenAsync("api.token", notifies: false);
        Assert.Equal(1, notified);
        await notifier.WrittenAsync("api.token", notifies: false);
        Assert.Equal(1, notified);
        await notifier.WrittenAsync("x509", notifies: true);
        Assert.Equal(2, notified);
    }
}
