using MiniSpire.Agent.Cache;
using MiniSpire.Entries;

namespace MiniSpire.Agent.Attestation;

/// <summary>An entry a workload does not match, and the selectors it lacks.</summary>
internal sealed record NearMiss(CachedEntry Entry, IReadOnlyList<Selector> Missing);

/// <summary>
/// Why a workload got no identity, in the terms an operator can act on: the entries closest to matching
/// it (fewest missing selectors first) and exactly which selectors each one needs that it lacks.
/// </summary>
internal static class NearMisses
{
    public static IReadOnlyList<NearMiss> Find(IEnumerable<CachedEntry> entries, IReadOnlySet<Selector> workloadSelectors, int max = 5) =>
        [.. entries
            .Where(e => !e.IsMatchedBy(workloadSelectors) && e.Selectors.Count > 0)
            .Select(e => new NearMiss(e, [.. e.Selectors.Where(s => !workloadSelectors.Contains(s))]))
            .OrderBy(m => m.Missing.Count)
            .ThenBy(m => m.Entry.Id, StringComparer.Ordinal)
            .Take(max)];

    /// <summary>One line per near miss, for logs and the CLI.</summary>
    public static string Describe(IReadOnlyList<NearMiss> misses) =>
        misses.Count == 0
            ? "no entries to compare with"
            : string.Join("; ", misses.Select(m => $"entry {m.Entry.Id} ({m.Entry.SpiffeId}) lacks {string.Join(", ", m.Missing)}"));
}
