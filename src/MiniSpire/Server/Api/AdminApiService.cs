using MiniSpire.Entries;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using MiniSpire.Config;
using MiniSpire.Proto;
using MiniSpire.Server.Ca;
using MiniSpire.Server.Datastore;
using MiniSpire.Server.Entries;
using Spiffe;
using Spiffe.Jwt;
using EntryProto = MiniSpire.Proto.Entry;
using Selector = MiniSpire.Entries.Selector;
using SelectorProto = MiniSpire.Proto.Selector;

namespace MiniSpire.Server.Api;

/// <summary>The admin API, served on the Unix socket only: entries, join tokens, bundles, agents, health.</summary>
internal sealed partial class AdminApiService : Admin.AdminBase
{
    public static readonly TimeSpan DefaultJoinTokenTtl = TimeSpan.FromSeconds(600);

    private readonly ServerOptions _options;
    private readonly ServerCa _ca;
    private readonly SqliteDataStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<AdminApiService> _logger;

    public AdminApiService(ServerOptions options, ServerCa ca, SqliteDataStore store, TimeProvider time, ILogger<AdminApiService> logger)
    {
        _options = options;
        _ca = ca;
        _store = store;
        _time = time;
        _logger = logger;
    }

    public override async Task<EntryProto> CreateEntry(EntryProto request, ServerCallContext context)
    {
        // A custom ID (`entry create -entryID`) as SPIRE's: at most 255 characters of [A-Za-z0-9._-], unique.
        if (request.Id.Length > 255 || request.Id.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"invalid entry: id: \"{request.Id}\" must be at most 255 characters of letters, digits, '.', '_' and '-'"));
        }

        if (request.Id.Length > 0 && await _store.GetEntryAsync(request.Id, context.CancellationToken) is not null)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, $"an entry with ID \"{request.Id}\" already exists"));
        }

        var entry = request.FromProto(request.Id.Length > 0 ? request.Id : Guid.NewGuid().ToString(), _time.GetUtcNow().ToUnixTimeSeconds());
        ThrowIfInvalid(entry);
        try
        {
            await _store.CreateEntryAsync(entry, context.CancellationToken);
        }
        catch (DuplicateEntryException e)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, e.Message));
        }

        LogEntryCreated(entry.Id, entry.SpiffeId, entry.ParentId);
        return entry.ToProto();
    }

    public override async Task<EntryProto> UpdateEntry(EntryProto request, ServerCallContext context)
    {
        if (string.IsNullOrEmpty(request.Id))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "invalid entry: id: is required"));
        }

        var entry = request.FromProto(request.Id, 0);
        ThrowIfInvalid(entry);
        RegistrationEntry? updated;
        try
        {
            updated = await _store.UpdateEntryAsync(entry, context.CancellationToken);
        }
        catch (DuplicateEntryException e)
        {
            throw new RpcException(new Status(StatusCode.AlreadyExists, e.Message));
        }

        if (updated is null)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"entry \"{request.Id}\" not found"));
        }

        LogEntryUpdated(updated.Id, updated.RevisionNumber);
        return updated.ToProto();
    }

    public override async Task<DeleteEntryResponse> DeleteEntry(DeleteEntryRequest request, ServerCallContext context)
    {
        if (!await _store.DeleteEntryAsync(request.Id, context.CancellationToken))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"entry \"{request.Id}\" not found"));
        }

        LogEntryDeleted(request.Id);
        return new DeleteEntryResponse();
    }

    public override async Task<ListEntriesResponse> ListEntries(ListEntriesRequest request, ServerCallContext context)
    {
        var wanted = request.Selectors.Select(s => new Selector(s.Type, s.Value)).ToList();
        var entries = (await _store.ListEntriesAsync(context.CancellationToken))
            .Where(e => request.EntryId.Length == 0 || e.Id == request.EntryId)
            .Where(e => request.SpiffeId.Length == 0 || e.SpiffeId == request.SpiffeId)
            .Where(e => request.ParentId.Length == 0 || e.ParentId == request.ParentId)
            .Where(e => wanted.All(e.Selectors.Contains));
        var response = new ListEntriesResponse();
        response.Entries.AddRange(entries.Select(e => e.ToProto()));
        return response;
    }

    public override async Task<CreateJoinTokenResponse> CreateJoinToken(CreateJoinTokenRequest request, ServerCallContext context)
    {
        if (request.TtlSeconds < 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"ttl: must be positive, got {request.TtlSeconds}"));
        }

        var ttl = request.TtlSeconds == 0 ? DefaultJoinTokenTtl : TimeSpan.FromSeconds(request.TtlSeconds);
        var now = _time.GetUtcNow();
        var token = Guid.NewGuid().ToString();
        RegistrationEntry? alias = null;
        if (request.SpiffeId.Length > 0)
        {
            var agentId = SpiffeId.FromSegments(_options.TrustDomain, "spire", "agent", AgentApiService.JoinTokenAttestor, token).ToString();
            alias = new RegistrationEntry
            {
                Id = Guid.NewGuid().ToString(),
                SpiffeId = request.SpiffeId,
                ParentId = agentId,
                Selectors = [new Selector("spiffe_id", agentId)],
                CreatedAt = now.ToUnixTimeSeconds(),
            };
            ThrowIfInvalid(alias);
        }

        var expiry = now + ttl;
        var expiresAt = expiry.ToUnixTimeSeconds();
        await _store.CreateJoinTokenAsync(token, expiresAt, alias, context.CancellationToken);
        var aliasId = alias?.SpiffeId ?? "none";
        LogJoinTokenCreated(expiry, aliasId);
        return new CreateJoinTokenResponse { Token = token, ExpiresAt = expiresAt, AliasEntry = alias?.ToProto() };
    }

    public override Task<Proto.Bundle> GetBundle(GetServerBundleRequest request, ServerCallContext context)
    {
        var now = _time.GetUtcNow();
        var snapshot = _ca.Snapshot;
        return Task.FromResult(ProtoMapping.ToBundleProto(_options.TrustDomain, snapshot.BundleX509(now), snapshot.BundleJwt(now), snapshot.SequenceNumber));
    }

    public override async Task<ListFederatedBundlesResponse> ListFederatedBundles(ListFederatedBundlesRequest request, ServerCallContext context)
    {
        var response = new ListFederatedBundlesResponse();
        response.Bundles.AddRange((await _store.ListFederatedBundlesAsync(context.CancellationToken)).Select(b => b.ToProto()));
        return response;
    }

    public override async Task<SetFederatedBundleResponse> SetFederatedBundle(Proto.Bundle request, ServerCallContext context)
    {
        var errors = new List<string>();
        if (!TrustDomain.TryParse(ProtoMapping.NormalizeTrustDomain(request.TrustDomain), out var trustDomain, out var tdError))
        {
            errors.Add($"trust_domain: {tdError}");
        }
        else if (trustDomain.Equals(_options.TrustDomain))
        {
            errors.Add($"trust_domain: \"{trustDomain}\" is the server's own trust domain");
        }

        var x509 = new List<byte[]>();
        foreach (var der in request.X509Authorities)
        {
            try
            {
                using var certificate = X509CertificateLoader.LoadCertificate(der.Span);
                x509.Add(certificate.RawData);
            }
            catch (CryptographicException e)
            {
                errors.Add($"x509_authorities: not a DER certificate: {e.Message}");
            }
        }

        var jwks = request.JwtAuthoritiesJwks.IsEmpty ? "{\"keys\":[]}"u8.ToArray() : request.JwtAuthoritiesJwks.ToByteArray();
        if (trustDomain is not null)
        {
            try
            {
                _ = JwtBundle.Parse(trustDomain, jwks);
            }
            catch (Exception e) when (e is JwtSvidException or FormatException or System.Text.Json.JsonException)
            {
                errors.Add($"jwt_authorities: {e.Message}");
            }
        }

        if (x509.Count == 0 && errors.Count == 0)
        {
            errors.Add("x509_authorities: the bundle holds no X.509 authority");
        }

        if (errors.Count > 0 || trustDomain is null)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "invalid bundle: " + string.Join("; ", errors)));
        }

        var record = await _store.SetFederatedBundleAsync(trustDomain.Name, x509, jwks, context.CancellationToken);
        LogBundleSet(record.TrustDomain, record.SequenceNumber);
        return new SetFederatedBundleResponse();
    }

    public override async Task<DeleteFederatedBundleResponse> DeleteFederatedBundle(DeleteFederatedBundleRequest request, ServerCallContext context)
    {
        var trustDomain = ProtoMapping.NormalizeTrustDomain(request.TrustDomain);
        if (!await _store.DeleteFederatedBundleAsync(trustDomain, context.CancellationToken))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"no federated bundle for trust domain \"{trustDomain}\""));
        }

        LogBundleDeleted(trustDomain);
        return new DeleteFederatedBundleResponse();
    }

    public override async Task<ListAgentsResponse> ListAgents(ListAgentsRequest request, ServerCallContext context)
    {
        if (request.Banned is not ("" or "true" or "false"))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"banned: \"{request.Banned}\" is not true, false or empty"));
        }

        var wanted = request.Selectors.Select(s => new Selector(s.Type, s.Value)).ToList();
        var response = new ListAgentsResponse();
        foreach (var agent in await _store.ListAgentsAsync(context.CancellationToken))
        {
            if (!wanted.All(agent.Selectors.Contains)
                || (request.AttestationType.Length > 0 && agent.AttestationType != request.AttestationType)
                || (request.ExpiresBefore > 0 && agent.ExpiresAt >= request.ExpiresBefore)
                || (request.Banned.Length > 0 && agent.Banned != (request.Banned == "true")))
            {
                continue;
            }

            var info = new AgentInfo
            {
                SpiffeId = agent.SpiffeId,
                AttestationType = agent.AttestationType,
                X509SvidSerialNumber = agent.SerialNumber,
                X509SvidExpiresAt = agent.ExpiresAt,
                CreatedAt = agent.CreatedAt,
                Banned = agent.Banned,
            };
            info.Selectors.AddRange(agent.Selectors.Select(s => new SelectorProto { Type = s.Type, Value = s.Value }));
            response.Agents.Add(info);
        }

        return response;
    }

    public override async Task<EvictAgentResponse> EvictAgent(EvictAgentRequest request, ServerCallContext context)
    {
        if (!await _store.DeleteAgentAsync(request.SpiffeId, context.CancellationToken))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"agent \"{request.SpiffeId}\" not found"));
        }

        LogAgentEvicted(request.SpiffeId);
        return new EvictAgentResponse();
    }

    public override async Task<BanAgentResponse> BanAgent(BanAgentRequest request, ServerCallContext context)
    {
        if (!await _store.BanAgentAsync(request.SpiffeId, context.CancellationToken))
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"agent \"{request.SpiffeId}\" not found"));
        }

        LogAgentBanned(request.SpiffeId);
        return new BanAgentResponse();
    }

    public override Task<HealthResponse> Health(HealthRequest request, ServerCallContext context) =>
        Task.FromResult(new HealthResponse { Serving = _ca.Snapshot.X509Authorities.Count > 0, TrustDomain = _options.TrustDomain.Name });

    private void ThrowIfInvalid(RegistrationEntry entry)
    {
        var errors = EntryValidator.Validate(entry, _options.TrustDomain);
        if (errors.Count > 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "invalid entry: " + string.Join("; ", errors)));
        }
    }

    [LoggerMessage(EventId = 400, Level = LogLevel.Information, Message = "Created entry {EntryId} for {SpiffeId} under {ParentId}.")]
    private partial void LogEntryCreated(string entryId, string spiffeId, string parentId);

    [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Updated entry {EntryId} to revision {Revision}.")]
    private partial void LogEntryUpdated(string entryId, long revision);

    [LoggerMessage(EventId = 402, Level = LogLevel.Information, Message = "Deleted entry {EntryId}.")]
    private partial void LogEntryDeleted(string entryId);

    [LoggerMessage(EventId = 403, Level = LogLevel.Information, Message = "Created a join token valid until {ExpiresAt:o} (node alias: {AliasId}).")]
    private partial void LogJoinTokenCreated(DateTimeOffset expiresAt, string aliasId);

    [LoggerMessage(EventId = 404, Level = LogLevel.Information, Message = "Set the federated bundle of {TrustDomain} (sequence {Sequence}).")]
    private partial void LogBundleSet(string trustDomain, long sequence);

    [LoggerMessage(EventId = 406, Level = LogLevel.Information, Message = "Deleted the federated bundle of {TrustDomain}.")]
    private partial void LogBundleDeleted(string trustDomain);

    [LoggerMessage(EventId = 405, Level = LogLevel.Warning, Message = "Evicted agent {AgentId}; its calls are refused from now on.")]
    private partial void LogAgentEvicted(string agentId);

    [LoggerMessage(EventId = 407, Level = LogLevel.Warning, Message = "Banned agent {AgentId}; its calls are refused until it is evicted.")]
    private partial void LogAgentBanned(string agentId);
}
