namespace MiniSpire.Server.Ca;

/// <summary>The validity window of a CA or JWT key.</summary>
internal readonly record struct Validity(DateTimeOffset NotBefore, DateTimeOffset NotAfter)
{
    public TimeSpan Lifetime => NotAfter - NotBefore;

    public bool IsExpiredAt(DateTimeOffset now) => now >= NotAfter;
}

/// <summary>What the rotation of one kind of authority (X.509 CA or JWT key) must do now.</summary>
internal enum RotationStep
{
    None,

    /// <summary>No usable active authority and nothing prepared: create one and activate it at once.</summary>
    CreateActive,

    /// <summary>Create the next authority and publish it in the bundle, without signing with it yet.</summary>
    Prepare,

    /// <summary>Make the prepared authority the one that signs; the old one stays in the bundle until it expires.</summary>
    Activate,
}

/// <summary>
/// SPIRE's CA rotation timing, free of I/O: prepare the next authority when the active one has less than
/// min(life/2, 30 days) left, activate it when less than min(life/6, 7 days) is left.
/// </summary>
internal static class CaRotationTiming
{
    private static readonly TimeSpan MaxPrepareThreshold = TimeSpan.FromDays(30);
    private static readonly TimeSpan MaxActivateThreshold = TimeSpan.FromDays(7);

    public static TimeSpan PrepareThreshold(Validity active) =>
        Min(active.Lifetime / 2, MaxPrepareThreshold);

    public static TimeSpan ActivateThreshold(Validity active) =>
        Min(active.Lifetime / 6, MaxActivateThreshold);

    public static bool ShouldPrepare(DateTimeOffset now, Validity active) =>
        active.NotAfter - now < PrepareThreshold(active);

    public static bool ShouldActivate(DateTimeOffset now, Validity active) =>
        active.NotAfter - now < ActivateThreshold(active);

    /// <summary>The next step; apply it and ask again until <see cref="RotationStep.None"/>.</summary>
    public static RotationStep NextStep(DateTimeOffset now, Validity? active, Validity? prepared)
    {
        var preparedUsable = prepared is { } p && !p.IsExpiredAt(now);
        if (active is not { } current || current.IsExpiredAt(now))
        {
            return preparedUsable ? RotationStep.Activate : RotationStep.CreateActive;
        }

        if (!preparedUsable)
        {
            return ShouldPrepare(now, current) ? RotationStep.Prepare : RotationStep.None;
        }

        return ShouldActivate(now, current) ? RotationStep.Activate : RotationStep.None;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
