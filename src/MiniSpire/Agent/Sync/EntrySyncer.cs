using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using MiniSpire.Agent.Cache;
using MiniSpire.Agent.Node;
using MiniSpire.Agent.Rotation;
using MiniSpire.Proto;
using Spiffe;

namespace MiniSpire.Agent.Sync;

/// <summary>
/// One round of keeping the cache in step with the server: the authorized entries, the bundle when its
/// sequence number moves, and a new SVID for every entry that has none, whose entry changed, or whose SVID
/// has reached its jittered half life. Keys are made here and never leave the agent.
/// </summary>
internal sealed partial class EntrySyncer(AgentNode node, AgentCache cache, TimeProvider time, ILogger<EntrySyncer> logger)
{
    private readonly Dictionary<string, double> _jitter = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _signedRevision = new(StringComparer.Ordinal);
    private long _bundleSequence = -1;

    public async Task SyncOnceAsync(CancellationToken cancellationToken)
    {
        var client = node.Client;
        var sync = await client.SyncEntriesAsync(new SyncEntriesRequest(), cancellationToken: cancellationToken);
        var entries = new List<CachedEntry>();
        foreach (var entry in sync.Entries)
        {
            if (ToCachedEntry(entry) is { } cached)
            {
                entries.Add(cached);
            }
        }

        cache.SetEntries(entries);
        foreach (var gone in _signedRevision.Keys.Except(entries.Select(e => e.Id)).ToList())
        {
            _signedRevision.Remove(gone);
            _jitter.Remove(gone);
        }

        // Federated bundles carry no sequence number in the sync: while any entry federates, fetch them every
        // sync (as SPIRE's agent does), so a new federates_with or a "bundle set" reaches workloads.
        if (sync.BundleSequenceNumber != _bundleSequence || cache.Current.Bundle is null || entries.Any(e => e.FederatesWith.Count > 0))
        {
            var bundles = await client.GetBundleAsync(new GetBundleRequest(), cancellationToken: cancellationToken);
            cache.SetBundles(ToCachedBundle(bundles.Bundle), bundles.FederatedBundles.Select(ToCachedBundle));
            node.UpdateTrustedBundle(bundles.Bundle);
            if (sync.BundleSequenceNumber != _bundleSequence)
            {
                LogBundleUpdated(logger, bundles.Bundle.SequenceNumber, bundles.Bundle.X509Authorities.Count);
            }

            _bundleSequence = sync.BundleSequenceNumber;
        }

        cache.RemoveExpiredSvids(time.GetUtcNow());
        await SignDueSvidsAsync(entries, cancellationToken);
    }

    private async Task SignDueSvidsAsync(List<CachedEntry> entries, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var state = cache.Current;
        var due = entries.Where(e => IsDue(e, state, now)).ToList();
        if (due.Count == 0)
        {
            return;
        }

        var keys = new Dictionary<string, ECDsa>(StringComparer.Ordinal);
        try
        {
            var request = new SignX509SvidsRequest();
            foreach (var entry in due)
            {
                var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
                keys[entry.Id] = key;
                var csr = new CertificateRequest("CN=" + entry.Id, key, HashAlgorithmName.SHA256).CreateSigningRequest();
                request.Params.Add(new SvidParams { EntryId = entry.Id, Csr = ByteString.CopyFrom(csr) });
            }

            var response = await node.Client.SignX509SvidsAsync(request, cancellationToken: cancellationToken);
            foreach (var result in response.Results)
            {
                if (result.StatusCode != (int)StatusCode.OK || !keys.TryGetValue(result.EntryId, out var key))
                {
                    LogSignRefused(logger, result.EntryId, (StatusCode)result.StatusCode, result.StatusMessage);
                    continue;
                }

                var chain = result.Svid.CertChain.Select(b => X509CertificateLoader.LoadCertificate(b.Span)).ToList();
                var leaf = chain[0];
                var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime());
                cache.SetSvid(result.EntryId, new CachedX509Svid(
                    [.. result.Svid.CertChain.SelectMany(b => b.ToByteArray())],
                    key.ExportPkcs8PrivateKey(),
                    new DateTimeOffset(leaf.NotBefore.ToUniversalTime()),
                    notAfter));
                _signedRevision[result.EntryId] = due.First(e => e.Id == result.EntryId).RevisionNumber;
                _jitter[result.EntryId] = RotationPolicy.NextJitter(Random.Shared);
                LogSigned(logger, result.Svid.SpiffeId, result.EntryId, notAfter);
            }
        }
        finally
        {
            foreach (var key in keys.Values)
            {
                key.Dispose();
            }
        }
    }

    private bool IsDue(CachedEntry entry, CacheState state, DateTimeOffset now) =>
        !state.Svids.TryGetValue(entry.Id, out var svid)
        || !_signedRevision.TryGetValue(entry.Id, out var revision) || revision != entry.RevisionNumber
        || RotationPolicy.ShouldRotate(svid.NotBefore, svid.NotAfter, now, _jitter.GetValueOrDefault(entry.Id));

    private CachedEntry? ToCachedEntry(Proto.Entry entry)
    {
        if (!SpiffeId.TryParse(entry.SpiffeId, out var id, out var error))
        {
            LogBadEntry(logger, entry.Id, error);
            return null;
        }

        var federatesWith = new List<TrustDomain>();
        foreach (var name in entry.FederatesWith)
        {
            if (TrustDomain.TryParse(name, out var td))
            {
                federatesWith.Add(td);
            }
        }

        return new CachedEntry(entry.Id, id, [.. entry.Selectors.Select(s => new MiniSpire.Entries.Selector(s.Type, s.Value))], federatesWith, entry.Hint, entry.RevisionNumber);
    }

    private static CachedBundle ToCachedBundle(Bundle bundle) =>
        new(TrustDomain.Parse(bundle.TrustDomain), [.. bundle.X509Authorities.Select(a => a.ToByteArray())], bundle.JwtAuthoritiesJwks.ToByteArray());

    [LoggerMessage(EventId = 310, Level = LogLevel.Information, Message = "Signed X509-SVID for {SpiffeId} (entry {EntryId}), valid until {NotAfter:O}.")]
    private static partial void LogSigned(ILogger logger, string spiffeId, string entryId, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 311, Level = LogLevel.Warning, Message = "The server refused to sign an SVID for entry {EntryId}: {Code}: {Reason}")]
    private static partial void LogSignRefused(ILogger logger, string entryId, StatusCode code, string reason);

    [LoggerMessage(EventId = 312, Level = LogLevel.Information, Message = "Trust bundle updated (sequence {Sequence}, {Count} X.509 authorities).")]
    private static partial void LogBundleUpdated(ILogger logger, long sequence, int count);

    [LoggerMessage(EventId = 313, Level = LogLevel.Warning, Message = "Ignoring entry {EntryId} from the server: {Reason}")]
    private static partial void LogBadEntry(ILogger logger, string entryId, string reason);
}
