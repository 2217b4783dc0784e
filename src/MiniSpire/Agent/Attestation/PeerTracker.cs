using MiniSpire.Entries;

namespace MiniSpire.Agent.Attestation;

/// <summary>Why a caller could not be attested.</summary>
internal enum AttestationFailure
{
    /// <summary>The process exited, or its pid now belongs to another process.</summary>
    CallerGone,

    /// <summary>
    /// The process no longer runs as the uid/gid the kernel recorded for the connection (<c>SO_PEERCRED</c>),
    /// e.g. it exec'd a setuid or setgid program after connecting.
    /// </summary>
    CredentialsChanged,
}

/// <summary>The outcome of attesting a caller: its selectors, or why there are none.</summary>
internal sealed record WorkloadAttestation(PeerCredentials Caller, IReadOnlyList<Selector> Selectors, AttestationFailure? Failure)
{
    public bool Succeeded => Failure is null;
}

/// <summary>
/// A connection's caller as recorded when the connection was accepted: the kernel's peer credentials, the
/// process held open and its start time. Disposed when the connection ends.
/// </summary>
internal sealed class TrackedCaller(PeerCredentials credentials, OpenedProcess? process, ulong? startTime) : IDisposable
{
    public PeerCredentials Credentials { get; } = credentials;

    public OpenedProcess? Process { get; } = process;

    public ulong? StartTime { get; } = startTime;

    public void Dispose() => Process?.Dispose();
}

/// <summary>
/// Attests the process behind a connection with SPIRE's peer tracker checks, made before and after the
/// selectors are read: the process held open since the connection was accepted is still alive (so its pid
/// was not reused), its start time is unchanged, and its effective uid and gid are still the ones the kernel
/// recorded for the connection (<c>SO_PEERCRED</c>, fixed at <c>connect()</c>). A caller that exec'd a
/// setuid or setgid program after connecting fails the last check and gets nothing. The uid and gid
/// selectors come from the peer credentials, which no exec can change.
/// </summary>
internal sealed class PeerTracker(ProcessInspector processes, UnixWorkloadAttestor attestor)
{
    /// <summary>Records the caller of a just-accepted connection; the result is disposed when it closes.</summary>
    public TrackedCaller Track(PeerCredentials credentials)
    {
        var process = credentials.Pid > 0 ? processes.Open(credentials.Pid) : null;
        return new TrackedCaller(credentials, process, process?.ReadStartTime());
    }

    /// <summary>Attests <paramref name="caller"/>, checking before and after that it is still the process that connected.</summary>
    public WorkloadAttestation Attest(TrackedCaller caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (Check(caller) is { } before)
        {
            return new WorkloadAttestation(caller.Credentials, [], before);
        }

        var selectors = attestor.Attest(caller.Process!, caller.Credentials);
        if (selectors is null)
        {
            return new WorkloadAttestation(caller.Credentials, [], AttestationFailure.CallerGone);
        }

        if (Check(caller) is { } after)
        {
            return new WorkloadAttestation(caller.Credentials, [], after);
        }

        return new WorkloadAttestation(caller.Credentials, selectors, null);
    }

    /// <summary>Null when the caller is still the process that connected, with the credentials it connected with.</summary>
    private static AttestationFailure? Check(TrackedCaller caller)
    {
        if (caller.Process is not { } process || caller.StartTime is not { } startTime)
        {
            return AttestationFailure.CallerGone;
        }

        var ids = process.ReadIds();
        if (ids is null || process.ReadStartTime() != startTime)
        {
            return AttestationFailure.CallerGone;
        }

        return ids.Uid == caller.Credentials.Uid && ids.Gid == caller.Credentials.Gid ? null : AttestationFailure.CredentialsChanged;
    }
}
