using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using MiniSpire.Config;
using MiniSpire.Proto;
using MiniSpire.Server.Ca;
using MiniSpire.Server.Datastore;
using MiniSpire.Server.Entries;
using MiniSpire.Telemetry;
using Spiffe;

namespace MiniSpire.Server.Api;

/// <summary>The API agents call over TCP with TLS: attestation, renewal, entries, SVIDs and bundles.</summary>
internal sealed partial class AgentApiService : Proto.Agent.AgentBase
{
    public const string JoinTokenAttestor = "join_token";

    private readonly ServerOptions _options;
    private readonly ServerCa _ca;
    private readonly SqliteDataStore _store;
    private readonly AgentAuthenticator _authenticator;
    private readonly TimeProvider _time;
    private readonly ILogger<AgentApiService> _logger;
    private readonly ServerMetrics? _metrics;

    public AgentApiService(
        ServerOptions options, ServerCa ca, SqliteDataStore store, AgentAuthenticator authenticator, TimeProvider time, ILogger<AgentApiService> logger, ServerMetrics? metrics = null)
    {
        _metrics = metrics;
        _options = options;
        _ca = ca;
        _store = store;
        _authenticator = authenticator;
        _time = time;
        _logger = logger;
    }

    public override async Task<AttestAgentResponse> AttestAgent(AttestAgentRequest request, ServerCallContext context)
    {
        if (request.Attestation is null || request.Attestation.Type != JoinTokenAttestor)
        {
            _metrics?.AttestationFailed(ServerMetrics.UnsupportedAttestor);
            throw Refuse(StatusCode.InvalidArgument, context.Peer, $"unsupported node attestor \"{request.Attestation?.Type}\" (supported: {JoinTokenAttestor})");
        }

        var token = Encoding.UTF8.GetString(request.Attestation.Payload.Span);
        if (token.Length == 0 || token.Any(c => !(char.IsAsciiLetterOrDigit(c) || c == '-')))
        {
            _metrics?.AttestationFailed(ServerMetrics.MalformedToken);
            throw Refuse(StatusCode.InvalidArgument, context.Peer, "the join token is empty or malformed");
        }

        PublicKey publicKey;
        try
        {
            publicKey = ReadCsr(request.Csr.ToByteArray(), context.Peer);
        }
        catch (RpcException)
        {
            _metrics?.AttestationFailed(ServerMetrics.InvalidCsr);
            throw;
        }

        // The token is redeemed before anything is signed: a caller without a valid token makes the CA sign
        // nothing. The SVID is signed inside the redeeming transaction, which a failed signing rolls back.
        var agentId = SpiffeId.FromSegments(_options.TrustDomain, "spire", "agent", JoinTokenAttestor, token);
        var agentIdText = agentId.ToString();
        var now = _time.GetUtcNow();
        IssuedX509Svid? svid = null;
        var outcome = await _store.RedeemJoinTokenAsync(token, now.ToUnixTimeSeconds(), () =>
        {
            svid = _ca.SignX509Svid(publicKey, agentId, [], _options.DefaultX509SvidTtl);
            return new AgentRecord
            {
                SpiffeId = agentIdText,
                AttestationType = JoinTokenAttestor,
                SerialNumber = svid.SerialNumberHex,
                ExpiresAt = svid.NotAfter.ToUnixTimeSeconds(),
                CreatedAt = now.ToUnixTimeSeconds(),
            };
        }, context.CancellationToken);
        switch (outcome)
        {
            case JoinTokenOutcome.NotFound:
                _metrics?.AttestationFailed(ServerMetrics.UnknownToken);
                throw Refuse(StatusCode.PermissionDenied, context.Peer, "failed to attest: join token does not exist or has already been used");
            case JoinTokenOutcome.Expired:
                _metrics?.AttestationFailed(ServerMetrics.ExpiredToken);
                throw Refuse(StatusCode.PermissionDenied, context.Peer, "failed to attest: join token expired");
        }

        LogAgentAttested(agentIdText, context.Peer);
        return new AttestAgentResponse { Svid = ProtoMapping.ToSvidProto(agentId, svid!), Bundle = ServerBundle() };
    }

    public override async Task<RenewAgentResponse> RenewAgent(RenewAgentRequest request, ServerCallContext context)
    {
        var agent = await _authenticator.AuthenticateAsync(context);
        var publicKey = ReadCsr(request.Csr.ToByteArray(), context.Peer);
        var agentId = SpiffeId.Parse(agent.SpiffeId);
        var svid = _ca.SignX509Svid(publicKey, agentId, [], _options.DefaultX509SvidTtl);
        await _store.UpsertAgentAsync(
            agent with
            {
                NewSerialNumber = svid.SerialNumberHex,
                ExpiresAt = svid.NotAfter.ToUnixTimeSeconds(),
            },
            context.CancellationToken);
        LogAgentRenewed(agent.SpiffeId);
        return new RenewAgentResponse { Svid = ProtoMapping.ToSvidProto(agentId, svid) };
    }

    public override async Task<SyncEntriesResponse> SyncEntries(SyncEntriesRequest request, ServerCallContext context)
    {
        var agent = await _authenticator.AuthenticateAsync(context);
        var entries = await AuthorizedEntriesAsync(agent, context.CancellationToken);
        var response = new SyncEntriesResponse { BundleSequenceNumber = _ca.Snapshot.SequenceNumber };
        response.Entries.AddRange(entries.Select(e => e.ToProto()));
        return response;
    }

    public override async Task<SignX509SvidsResponse> SignX509Svids(SignX509SvidsRequest request, ServerCallContext context)
    {
        var agent = await _authenticator.AuthenticateAsync(context);
        var authorized = (await AuthorizedEntriesAsync(agent, context.CancellationToken)).ToDictionary(e => e.Id, StringComparer.Ordinal);
        var response = new SignX509SvidsResponse();
        foreach (var param in request.Params)
        {
            var result = new SvidResult { EntryId = param.EntryId };
            if (!authorized.TryGetValue(param.EntryId, out var entry))
            {
                result.StatusCode = (int)StatusCode.PermissionDenied;
                result.StatusMessage = $"entry \"{param.EntryId}\" does not exist or is not authorized for agent \"{agent.SpiffeId}\"";
                LogUnauthorizedEntry(agent.SpiffeId, param.EntryId);
            }
            else if (!TryReadCsr(param.Csr.ToByteArray(), out var publicKey, out var problem))
            {
                result.StatusCode = (int)StatusCode.InvalidArgument;
                result.StatusMessage = $"invalid CSR: {problem}";
            }
            else
            {
                var ttl = entry.X509SvidTtl > 0 ? TimeSpan.FromSeconds(entry.X509SvidTtl) : _options.DefaultX509SvidTtl;
                var id = SpiffeId.Parse(entry.SpiffeId);
                result.Svid = ProtoMapping.ToSvidProto(id, _ca.SignX509Svid(publicKey, id, entry.DnsNames, ttl));
            }

            response.Results.Add(result);
        }

        return response;
    }

    public override async Task<MintJwtSvidResponse> MintJwtSvid(MintJwtSvidRequest request, ServerCallContext context)
    {
        var agent = await _authenticator.AuthenticateAsync(context);
        if (request.Audience.Count == 0 || request.Audience.Any(string.IsNullOrEmpty))
        {
            throw Refuse(StatusCode.InvalidArgument, context.Peer, "audience is required and must not hold an empty value");
        }

        var entry = (await AuthorizedEntriesAsync(agent, context.CancellationToken)).FirstOrDefault(e => e.Id == request.EntryId);
        if (entry is null)
        {
            LogUnauthorizedEntry(agent.SpiffeId, request.EntryId);
            throw new RpcException(new Status(
                StatusCode.PermissionDenied, $"entry \"{request.EntryId}\" does not exist or is not authorized for agent \"{agent.SpiffeId}\""));
        }

        var ttl = entry.JwtSvidTtl > 0 ? TimeSpan.FromSeconds(entry.JwtSvidTtl) : _options.DefaultJwtSvidTtl;
        var (token, issuedAt, expiresAt) = _ca.MintJwtSvid(SpiffeId.Parse(entry.SpiffeId), request.Audience.ToList(), ttl);
        return new MintJwtSvidResponse
        {
            SpiffeId = entry.SpiffeId,
            Token = token,
            IssuedAt = issuedAt.ToUnixTimeSeconds(),
            ExpiresAt = expiresAt.ToUnixTimeSeconds(),
        };
    }

    public override async Task<GetBundleResponse> GetBundle(GetBundleRequest request, ServerCallContext context)
    {
        var agent = await _authenticator.AuthenticateAsync(context);
        var entries = await AuthorizedEntriesAsync(agent, context.CancellationToken);
        var wanted = entries.SelectMany(e => e.FederatesWith).ToHashSet(StringComparer.Ordinal);
        var response = new GetBundleResponse { Bundle = ServerBundle() };
        if (wanted.Count > 0)
        {
            var federated = await _store.ListFederatedBundlesAsync(context.CancellationToken);
            response.FederatedBundles.AddRange(federated.Where(b => wanted.Contains(b.TrustDomain)).Select(b => b.ToProto()));
        }

        return response;
    }

    private Proto.Bundle ServerBundle()
    {
        var now = _time.GetUtcNow();
        var snapshot = _ca.Snapshot;
        return ProtoMapping.ToBundleProto(_options.TrustDomain, snapshot.BundleX509(now), snapshot.BundleJwt(now), snapshot.SequenceNumber);
    }

    private async Task<IReadOnlyList<RegistrationEntry>> AuthorizedEntriesAsync(AgentRecord agent, CancellationToken ct) =>
        EntryAuthorizer.AuthorizedEntries(
            await _store.ListEntriesAsync(ct), agent.SpiffeId, agent.Selectors, _options.ServerId.ToString(), _time.GetUtcNow());

    private PublicKey ReadCsr(byte[] csr, string peer) =>
        TryReadCsr(csr, out var key, out var problem) ? key : throw Refuse(StatusCode.InvalidArgument, peer, $"invalid CSR: {problem}");

    private static bool TryReadCsr(byte[] csr, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out PublicKey? key, out string problem)
    {
        try
        {
            key = CsrVerifier.ReadVerifiedPublicKey(csr);
            problem = string.Empty;
            return true;
        }
        catch (CryptographicException e)
        {
            key = null;
            problem = e.Message;
            return false;
        }
    }

    private RpcException Refuse(StatusCode code, string peer, string reason)
    {
        LogRefused(peer, code, reason);
        return new RpcException(new Status(code, reason));
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Agent {AgentId} attested from {Peer}.")]
    private partial void LogAgentAttested(string agentId, string peer);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Agent {AgentId} renewed its SVID.")]
    private partial void LogAgentRenewed(string agentId);

    [LoggerMessage(EventId = 302, Level = LogLevel.Warning, Message = "Agent {AgentId} asked for entry {EntryId}, which is not authorized for it; refused.")]
    private partial void LogUnauthorizedEntry(string agentId, string entryId);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "Refused agent API call from {Peer} with {Code}: {Reason}.")]
    private partial void LogRefused(string peer, StatusCode code, string reason);
}
