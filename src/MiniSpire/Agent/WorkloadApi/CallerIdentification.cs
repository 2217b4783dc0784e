using Grpc.Core;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;
using MiniSpire.Agent.Attestation;

namespace MiniSpire.Agent.WorkloadApi;

/// <summary>
/// Identifies Workload API callers from their Unix socket: the kernel's peer credentials, the process held
/// open and its start time, all taken when the connection is accepted, then workload attestation per call
/// (<see cref="PeerTracker"/>). The process stays held until the connection closes.
/// </summary>
internal sealed class CallerIdentification(PeerTracker tracker)
{
    private const string ItemKey = "minispire.caller";

    /// <summary>Kestrel connection middleware recording who connected, before any request is read.</summary>
    public Func<ConnectionDelegate, ConnectionDelegate> Middleware => next => async connection =>
    {
        var socket = connection.Features.Get<IConnectionSocketFeature>()?.Socket;
        if (socket is not null)
        {
            using var caller = tracker.Track(PeerCredentials.Read(socket));
            connection.Items[ItemKey] = caller;
            await next(connection);
            return;
        }

        await next(connection);
    };

    /// <summary>Attests the process behind the call's connection.</summary>
    /// <exception cref="RpcException">Unavailable when the connection carries no peer credentials (not a Unix socket).</exception>
    public WorkloadAttestation Attest(ServerCallContext context)
    {
        var items = context.GetHttpContext().Features.Get<IConnectionItemsFeature>()?.Items;
        if (items is null || !items.TryGetValue(ItemKey, out var value) || value is not TrackedCaller caller)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "workload attestation failed: the caller's peer credentials are unknown"));
        }

        return tracker.Attest(caller);
    }
}
