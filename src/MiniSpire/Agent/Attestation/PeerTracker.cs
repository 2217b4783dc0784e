using MiniSpire.Entries;

namespace MiniSpire.Agent.Attestation;

/// <summary>Why a caller could not be attested.</summary>
internal enum AttestationFailure
{
    /// <summary>The process exited, or its pid now belongs to another process.</summary>
    CallerGone,
}

/// <summary>The outcome of attesting a caller: its selectors, or why there are none.</summary>
internal sealed record WorkloadAttestation(PeerCredentials Caller, IReadOnlyList<Selector> Selectors, AttestationFailure? Failure)
{
    public bool Succeeded => Failure is null;
}

/// <summary>
/// Attests the process behind a connection and guards against pid reuse as SPIRE's peer tracker does:
/// the process's start time recorded when the connection was accepted must still be the same after
/// attestation, or the selectors may describe a different process.
/// </summary>
internal sealed class PeerTracker(ProcessInspector processes, UnixWorkloadAttestor attestor)
{
    /// <summary>The start time of the caller now, to be recorded when its connection is accepted.</summary>
    public ulong? ObserveStartTime(int pid) => processes.ReadStartTime(pid);

    /// <summary>Attests <paramref name="caller"/>, whose start time at accept was <paramref name="startTimeAtAccept"/>.</summary>
    public WorkloadAttestation Attest(PeerCredentials caller, ulong? startTimeAtAccept)
    {
        if (startTimeAtAccept is null)
        {
            return new WorkloadAttestation(caller, [], AttestationFailure.CallerGone);
        }

        var selectors = attestor.Attest(caller.Pid);
        if (selectors is null || processes.ReadStartTime(caller.Pid) != startTimeAtAccept)
        {
            return new WorkloadAttestation(caller, [], AttestationFailure.CallerGone);
        }

        return new WorkloadAttestation(caller, selectors, null);
    }
}
