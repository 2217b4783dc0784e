using System.Collections.Immutable;

namespace MiniSpire.Agent.Cache;

/// <summary>
/// The agent's cache of entries, SVIDs and bundles, and the signal that wakes every open Workload API
/// stream when any of them changes. Writers are the sync and rotation loops; readers never block them.
/// A write that changes nothing (every sync re-sends the same entries and bundles) keeps the state and its
/// version, so idle streams are not woken to rebuild and compare their responses.
/// </summary>
internal sealed class AgentCache
{
    private readonly Lock _lock = new();
    private CacheState _current = CacheState.Empty;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public CacheState Current => Volatile.Read(ref _current);

    /// <summary>Replaces the entries; SVIDs of entries that are gone are dropped. The same entries again change nothing.</summary>
    public void SetEntries(IEnumerable<CachedEntry> entries) => Update(state =>
    {
        var byId = entries.ToImmutableSortedDictionary(e => e.Id, e => e, StringComparer.Ordinal);
        if (state.EntriesKnown && byId.Count == state.Entries.Count && byId.All(e => state.Entries.TryGetValue(e.Key, out var known) && known.Equals(e.Value)))
        {
            return state;
        }

        return state with
        {
            Entries = byId,
            EntriesKnown = true,
            Svids = state.Svids.Where(s => byId.ContainsKey(s.Key)).ToImmutableDictionary(),
        };
    });

    /// <summary>Stores a newly signed SVID for an entry the cache still has.</summary>
    public void SetSvid(string entryId, CachedX509Svid svid) => Update(state =>
        state.Entries.ContainsKey(entryId) ? state with { Svids = state.Svids.SetItem(entryId, svid) } : state);

    /// <summary>Replaces the own and federated bundles. The same bundles again change nothing.</summary>
    public void SetBundles(CachedBundle bundle, IEnumerable<CachedBundle> federated) => Update(state =>
    {
        var byTrustDomain = federated.ToImmutableDictionary(b => b.TrustDomain);
        if (bundle.Equals(state.Bundle)
            && byTrustDomain.Count == state.FederatedBundles.Count
            && byTrustDomain.All(b => state.FederatedBundles.TryGetValue(b.Key, out var known) && known.Equals(b.Value)))
        {
            return state;
        }

        return state with { Bundle = bundle, FederatedBundles = byTrustDomain };
    });

    /// <summary>Drops SVIDs that have expired: an agent never hands out a dead credential.</summary>
    public void RemoveExpiredSvids(DateTimeOffset now) => Update(state =>
        state.Svids.Values.Any(s => s.NotAfter <= now)
            ? state with { Svids = state.Svids.Where(s => s.Value.NotAfter > now).ToImmutableDictionary() }
            : state);

    /// <summary>Forgets every entry, SVID and bundle: open streams end with PermissionDenied.</summary>
    public void Clear() => Update(state => CacheState.Empty with { Version = state.Version, EntriesKnown = true });

    /// <summary>Completes when the cache moves past <paramref name="version"/>.</summary>
    public Task WaitForChangeAsync(long version, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            return _current.Version != version ? Task.CompletedTask : _changed.Task.WaitAsync(cancellationToken);
        }
    }

    private void Update(Func<CacheState, CacheState> change)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            var next = change(_current);
            if (ReferenceEquals(next, _current))
            {
                return;
            }

            Volatile.Write(ref _current, next with { Version = _current.Version + 1 });
            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }
}
