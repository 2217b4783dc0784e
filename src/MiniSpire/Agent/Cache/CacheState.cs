using System.Collections.Immutable;
using MiniSpire.Entries;
using Spiffe;

namespace MiniSpire.Agent.Cache;

/// <summary>One identity of a workload: a matching entry and its SVID, if the agent has one yet.</summary>
internal sealed record WorkloadIdentity(CachedEntry Entry, CachedX509Svid? Svid);

/// <summary>
/// An immutable snapshot of everything the agent can hand to workloads. Each change makes a new one with
/// a higher version, so a stream compares versions instead of locking. Until the first sync has delivered
/// the entries (<see cref="EntriesKnown"/>), no caller can be told it has no identity.
/// </summary>
internal sealed record CacheState(
    long Version,
    ImmutableSortedDictionary<string, CachedEntry> Entries,
    ImmutableDictionary<string, CachedX509Svid> Svids,
    CachedBundle? Bundle,
    ImmutableDictionary<TrustDomain, CachedBundle> FederatedBundles,
    bool EntriesKnown = false)
{
    public static CacheState Empty { get; } = new(
        0,
        ImmutableSortedDictionary.Create<string, CachedEntry>(StringComparer.Ordinal),
        ImmutableDictionary<string, CachedX509Svid>.Empty,
        null,
        ImmutableDictionary<TrustDomain, CachedBundle>.Empty);

    /// <summary>The identities of a workload with these selectors, ordered by entry ID (SPIRE's stable order).</summary>
    public IReadOnlyList<WorkloadIdentity> Match(IReadOnlySet<Selector> selectors) =>
        [.. Entries.Values.Where(e => e.IsMatchedBy(selectors)).Select(e => new WorkloadIdentity(e, Svids.GetValueOrDefault(e.Id)))];

    /// <summary>The federated bundles named by any of <paramref name="identities"/>, that the agent has.</summary>
    public IReadOnlyList<CachedBundle> FederatedBundlesFor(IEnumerable<WorkloadIdentity> identities) =>
        [.. identities.SelectMany(i => i.Entry.FederatesWith)
            .Distinct()
            .Where(td => Bundle is null || td != Bundle.TrustDomain)
            .Select(td => FederatedBundles.GetValueOrDefault(td))
            .OfType<CachedBundle>()
            .OrderBy(b => b.TrustDomain.Name, StringComparer.Ordinal)];
}
