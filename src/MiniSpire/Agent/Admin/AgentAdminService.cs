using Grpc.Core;
using MiniSpire.Agent.Attestation;
using MiniSpire.Agent.Cache;
using MiniSpire.Proto;

namespace MiniSpire.Agent.Admin;

/// <summary>
/// The agent's admin API, on its own owner-only Unix socket: attest any process on demand and say which
/// entries it matches and, for the nearest ones it does not, which selectors it lacks (the seed's lab 4,
/// made easy; SPIRE has no such command).
/// </summary>
internal sealed class AgentAdminService(AgentCache cache, UnixWorkloadAttestor attestor) : AgentAdmin.AgentAdminBase
{
    public override Task<AttestPidResponse> AttestPid(AttestPidRequest request, ServerCallContext context)
    {
        if (request.Pid <= 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"pid must be a positive process ID, got {request.Pid}"));
        }

        var selectors = attestor.Attest(request.Pid)
            ?? throw new RpcException(new Status(StatusCode.NotFound, $"process {request.Pid} does not exist (or /proc/{request.Pid} is not readable by the agent)"));
        var workload = selectors.ToHashSet();
        var state = cache.Current;
        var response = new AttestPidResponse { Pid = request.Pid };
        response.Selectors.AddRange(selectors.Select(ToProto));
        foreach (var identity in state.Match(workload))
        {
            var entry = new Proto.Entry { Id = identity.Entry.Id, SpiffeId = identity.Entry.SpiffeId.ToString(), Hint = identity.Entry.Hint };
            entry.Selectors.AddRange(identity.Entry.Selectors.Select(ToProto));
            response.Matching.Add(entry);
        }

        foreach (var miss in NearMisses.Find(state.Entries.Values, workload))
        {
            var nearMiss = new Proto.NearMiss { EntryId = miss.Entry.Id, SpiffeId = miss.Entry.SpiffeId.ToString() };
            nearMiss.Missing.AddRange(miss.Missing.Select(ToProto));
            response.NearMisses.Add(nearMiss);
        }

        return Task.FromResult(response);
    }

    private static Proto.Selector ToProto(Entries.Selector selector) => new() { Type = selector.Type, Value = selector.Value };
}
