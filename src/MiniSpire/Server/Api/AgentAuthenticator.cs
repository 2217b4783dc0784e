using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using MiniSpire.Config;
using MiniSpire.Server.Ca;
using MiniSpire.Server.Datastore;
using Spiffe;
using Spiffe.X509;

namespace MiniSpire.Server.Api;

/// <summary>
/// Decides who an agent API caller is: the TLS client certificate must chain to the server's bundle, name an
/// agent of this trust domain, belong to an attested (not evicted) agent and be its latest SVID.
/// Every refusal is a gRPC status that says why, and is logged.
/// </summary>
internal sealed partial class AgentAuthenticator
{
    private readonly ServerOptions _options;
    private readonly ServerCa _ca;
    private readonly SqliteDataStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<AgentAuthenticator> _logger;

    public AgentAuthenticator(ServerOptions options, ServerCa ca, SqliteDataStore store, TimeProvider time, ILogger<AgentAuthenticator> logger)
    {
        _options = options;
        _ca = ca;
        _store = store;
        _time = time;
        _logger = logger;
    }

    public async Task<AgentRecord> AuthenticateAsync(ServerCallContext context)
    {
        var certificate = context.GetHttpContext().Connection.ClientCertificate;
        var peer = context.Peer;
        if (certificate is null)
        {
            throw Refuse(StatusCode.Unauthenticated, peer, "a client certificate (the agent SVID) is required");
        }

        var now = _time.GetUtcNow();
        var snapshot = _ca.Snapshot;
        var problems = ChainVerification.Verify(certificate, snapshot.BundleX509(now), snapshot.Intermediates, now);
        if (problems.Count > 0)
        {
            throw Refuse(StatusCode.Unauthenticated, peer, $"the client certificate does not chain to the trust bundle of \"{_options.TrustDomain}\" ({string.Join("; ", problems)})");
        }

        var uris = certificate.GetUriSans();
        if (uris.Count != 1 || !SpiffeId.TryParse(uris[0], out var id))
        {
            throw Refuse(StatusCode.Unauthenticated, peer, "the client certificate has no single SPIFFE ID URI SAN");
        }

        if (!id.IsMemberOf(_options.TrustDomain) || !id.Path.StartsWith("/spire/agent/", StringComparison.Ordinal))
        {
            throw Refuse(StatusCode.PermissionDenied, peer, $"caller \"{id}\" is not an agent of trust domain \"{_options.TrustDomain}\"");
        }

        var agent = await _store.GetAgentAsync(id.ToString(), context.CancellationToken);
        if (agent is null)
        {
            throw Refuse(StatusCode.PermissionDenied, peer, $"agent \"{id}\" is not attested or has been evicted");
        }

        if (agent.Banned)
        {
            throw Refuse(StatusCode.PermissionDenied, peer, $"agent \"{id}\" is banned (`minispire server agent evict` lifts the ban)");
        }

        var serial = certificate.SerialNumber.ToLowerInvariant();
        if (serial == agent.SerialNumber)
        {
            return agent;
        }

        if (serial == agent.NewSerialNumber)
        {
            var promoted = agent with { SerialNumber = serial, NewSerialNumber = string.Empty };
            await _store.UpsertAgentAsync(promoted, context.CancellationToken);
            return promoted;
        }

        throw Refuse(StatusCode.PermissionDenied, peer, $"agent \"{id}\" presented an SVID that is not its latest (serial {serial})");
    }

    private RpcException Refuse(StatusCode code, string peer, string reason)
    {
        LogRefused(peer, code, reason);
        return new RpcException(new Status(code, reason));
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Warning, Message = "Refused agent API caller {Peer} with {Code}: {Reason}.")]
    private partial void LogRefused(string peer, StatusCode code, string reason);
}
