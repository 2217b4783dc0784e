using Microsoft.Extensions.Time.Testing;
using MiniSpire.Server.Ca;

namespace MiniSpire.Tests.Server;

public sealed class CaRotationTimingTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void NextStep_NoAuthority_CreatesActive()
    {
        Assert.Equal(RotationStep.CreateActive, CaRotationTiming.NextStep(Start, null, null));
    }

    [Fact]
    public void NextStep_ThroughA24hLifetime_PreparesAtHalfAndActivatesAtFiveSixths()
    {
        var time = new FakeTimeProvider(Start);
        var active = new Validity(Start, Start.AddHours(24));

        time.Advance(TimeSpan.FromHours(11.9));
        Assert.Equal(RotationStep.None, CaRotationTiming.NextStep(time.GetUtcNow(), active, null));

        time.Advance(TimeSpan.FromHours(0.2));
        Assert.Equal(RotationStep.Prepare, CaRotationTiming.NextStep(time.GetUtcNow(), active, null));

        var prepared = new Validity(time.GetUtcNow(), time.GetUtcNow().AddHours(24));
        time.Advance(TimeSpan.FromHours(7.8)); // 19.9 h: more than 4 h (1/6) left
        Assert.Equal(RotationStep.None, CaRotationTiming.NextStep(time.GetUtcNow(), active, prepared));

        time.Advance(TimeSpan.FromHours(0.2)); // 20.1 h: less than 4 h left
        Assert.Equal(RotationStep.Activate, CaRotationTiming.NextStep(time.GetUtcNow(), active, prepared));
    }

    [Fact]
    public void NextStep_ActiveExpiredWithPrepared_Activates()
    {
        var active = new Validity(Start, Start.AddHours(1));
        var prepared = new Validity(Start.AddMinutes(30), Start.AddMinutes(90));

        Assert.Equal(RotationStep.Activate, CaRotationTiming.NextStep(Start.AddHours(1), active, prepared));
    }

    [Fact]
    public void NextStep_ActiveAndPreparedExpired_CreatesActive()
    {
        var active = new Validity(Start, Start.AddHours(1));
        var prepared = new Validity(Start.AddMinutes(30), Start.AddMinutes(90));

        Assert.Equal(RotationStep.CreateActive, CaRotationTiming.NextStep(Start.AddHours(2), active, prepared));
    }

    [Fact]
    public void Thresholds_YearLongCa_CappedAt30And7Days()
    {
        var active = new Validity(Start, Start.AddDays(365));

        Assert.Equal(TimeSpan.FromDays(30), CaRotationTiming.PrepareThreshold(active));
        Assert.Equal(TimeSpan.FromDays(7), CaRotationTiming.ActivateThreshold(active));
        Assert.False(CaRotationTiming.ShouldPrepare(Start.AddDays(334), active));
        Assert.True(CaRotationTiming.ShouldPrepare(Start.AddDays(335.1), active));
    }
}
