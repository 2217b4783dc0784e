using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using SpiffeHelper.Config;
using SpiffeHelper.Health;
using Microsoft.Extensions.Logging.Abstractions;

namespace SpiffeHelper.Tests.Health;

public sealed class HealthStateTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));

    private HealthState NewState() => new(["svid.pem", "svid_key.pem", "bundle.pem"], _time);

    [Fact]
    public void Report_NothingWrittenYet_IsLiveButNotReady()
    {
        var report = NewState().Report();

        Assert.True(report.Live);
        Assert.False(report.Ready);
        Assert.Equal("no file written yet", report.Reason);
        Assert.All(report.FileWriteStatuses.Values, s => Assert.Equal("not_written", s));
    }

    [Fact]
    public void Report_WrittenThenSvidExpires_IsReadyThenNot()
    {
        var state = NewState();
        state.Written(_time.GetUtcNow().AddHours(1));
        Assert.True(state.Report().Ready);

        _time.Advance(TimeSpan.FromHours(2));

        var report = state.Report();
        Assert.False(report.Ready);
        Assert.Equal("the SVID on disk has expired", report.Reason);
    }

    [Fact]
    public void Report_SignalOwedLongerThanTheStuckLimit_IsNotReadyButLiveUntilDelivered()
    {
        var state = NewState();
        state.Written(_time.GetUtcNow().AddHours(1));
        state.SignalOwed();
        Assert.True(state.Report().Ready, "a signal being sent right now is not a problem yet");

        _time.Advance(HealthState.SignalStuckAfter + TimeSpan.FromSeconds(1));

        var stuck = state.Report();
        Assert.False(stuck.Ready);
        Assert.True(stuck.Live);
        Assert.Contains("is still being sent (stuck)", stuck.Reason);
        state.SignalDelivered();
        Assert.True(state.Report().Ready);
    }

    [Fact]
    public void Report_UpdateRefusedAfterWrite_StaysReadyAndKeepsTheRefusalAsData()
    {
        var state = NewState();
        state.Written(_time.GetUtcNow().AddHours(1));

        state.Rejected("SVID \"spiffe://example.org/web\" was not written: expired", RefusalReasons.Expired);

        var report = state.Report();
        Assert.True(report.Ready);
        Assert.Equal(new RefusedUpdate(RefusalReasons.Expired, "SVID \"spiffe://example.org/web\" was not written: expired", _time.GetUtcNow()), report.LastRefusedUpdate);
        state.Written(_time.GetUtcNow().AddHours(1));
        Assert.Null(state.Report().LastRefusedUpdate);
    }

    [Fact]
    public void Report_IdentityRefusedAfterWrite_IsNotReadyUntilTheNextWrite()
    {
        var state = NewState();
        state.Written(_time.GetUtcNow().AddHours(1));

        state.IdentityRefused("no identity issued");

        var refused = state.Report();
        Assert.True(refused.Live);
        Assert.False(refused.Ready);
        Assert.Contains("PermissionDenied: no identity issued", refused.Reason);
        Assert.All(refused.FileWriteStatuses.Values, s => Assert.Equal("written", s));

        state.Written(_time.GetUtcNow().AddHours(1));
        Assert.True(state.Report().Ready);
        Assert.Null(state.Report().Reason);
    }

    [Fact]
    public void Report_IdentityRefusedBeforeAnyWrite_SaysSo()
    {
        var state = NewState();

        state.IdentityRefused("no identity issued");

        Assert.False(state.Report().Ready);
        Assert.Contains("PermissionDenied", state.Report().Reason);
    }

    [Fact]
    public void Report_WriteFailedAfterSuccess_IsNotReadyAndNotLiveAsTheGoTool()
    {
        var state = NewState();
        state.Written(_time.GetUtcNow().AddHours(1));

        state.WriteFailed("Read-only file system");

        var report = state.Report();
        Assert.False(report.Live);
        Assert.False(report.Ready);
        Assert.Contains("Read-only file system", report.Reason);
        Assert.All(report.FileWriteStatuses.Values, s => Assert.Equal("write_failed", s));
    }

    [Fact]
    public void Report_UpdateStuck_IsNotLive()
    {
        var state = NewState();
        state.Written(_time.GetUtcNow().AddHours(1));
        state.UpdateStarted();
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(state.Report().Live);

        _time.Advance(HealthState.StuckAfter);

        Assert.False(state.Report().Live);
        Assert.False(state.Report().Ready);
        state.UpdateFinished();
        Assert.True(state.Report().Live);
    }

    [Fact]
    public void Respond_Paths_AnswerTheGoToolsBodyAndStatusCodesWithOursBeside()
    {
        var state = NewState();
        var server = new HealthServer(HealthOptions.Default, state, NullLogger<HealthServer>.Instance);

        var (notReady, body) = server.Respond("/ready");
        Assert.Equal(503, notReady);
        using (var json = JsonDocument.Parse(body))
        {
            Assert.Equal("Service Unavailable", json.RootElement.GetProperty("status").GetString());
            Assert.Equal("unwritten", json.RootElement.GetProperty("health").GetProperty("file_write_statuses").GetProperty("x509_write_status").GetString());
        }

        state.Written(_time.GetUtcNow().AddHours(1));
        var (ready, readyBody) = server.Respond("/ready");
        var (live, _) = server.Respond("/live");
        var (missing, _) = server.Respond("/metrics");

        Assert.Equal(200, ready);
        Assert.Equal(200, live);
        Assert.Equal(404, missing);
        using var readyJson = JsonDocument.Parse(readyBody);
        Assert.Equal("OK", readyJson.RootElement.GetProperty("status").GetString());
        Assert.Equal("written", readyJson.RootElement.GetProperty("health").GetProperty("file_write_statuses").GetProperty("x509_write_status").GetString());
        Assert.Equal("written", readyJson.RootElement.GetProperty("spiffe_helper").GetProperty("files").GetProperty("svid_key.pem").GetString());
        Assert.True(readyJson.RootElement.GetProperty("spiffe_helper").GetProperty("ready").GetBoolean());
    }
}
