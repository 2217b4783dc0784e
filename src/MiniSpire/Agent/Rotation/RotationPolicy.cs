namespace MiniSpire.Agent.Rotation;

/// <summary>
/// When the agent renews a credential, as SPIRE does: once the remaining lifetime drops to half the
/// lifetime, jittered by up to ten percent of that either way (27-33 minutes left for a 1 h SVID) so a
/// fleet does not renew in lockstep;
/// immediately once expired.
/// </summary>
internal static class RotationPolicy
{
    /// <summary>Largest jitter as a fraction of the half lifetime.</summary>
    public const double JitterFraction = 0.1;

    /// <summary>
    /// Whether a credential valid from <paramref name="notBefore"/> to <paramref name="notAfter"/> should be
    /// renewed at <paramref name="now"/>. <paramref name="jitter"/> in [-1, 1] moves the threshold by up to
    /// ten percent of the half lifetime; keep it fixed per credential so the decision does not flicker.
    /// </summary>
    public static bool ShouldRotate(DateTimeOffset notBefore, DateTimeOffset notAfter, DateTimeOffset now, double jitter)
    {
        if (now >= notAfter)
        {
            return true;
        }

        var lifetime = notAfter - notBefore;
        var threshold = lifetime / 2 * (1 + (JitterFraction * Math.Clamp(jitter, -1, 1)));
        return notAfter - now <= threshold;
    }

    /// <summary>A jitter value in [-1, 1] for one credential.</summary>
    public static double NextJitter(Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        return (random.NextDouble() * 2) - 1;
    }
}
