using MiniSpire.Entries;

namespace MiniSpire.Server.Entries;

/// <summary>
/// Which entries an agent may receive, as SPIRE decides: entries whose parent is the agent, node alias entries
/// (parent = the server ID) whose selectors are all among the agent's node selectors, and every descendant of
/// those. Pure: plain values in, plain values out.
/// </summary>
internal static class EntryAuthorizer
{
    public static IReadOnlyList<RegistrationEntry> AuthorizedEntries(
        IEnumerable<RegistrationEntry> allEntries,
        string agentId,
        IReadOnlyCollection<Selector> agentSelectors,
        string serverId,
        DateTimeOffset now)
    {
        var live = allEntries.Where(e => !e.IsExpiredAt(now)).ToList();
        var byParent = live.ToLookup(e => e.ParentId, StringComparer.Ordinal);
        var nodeSelectors = agentSelectors.ToHashSet();

        var authorized = new Dictionary<string, RegistrationEntry>(StringComparer.Ordinal);
        var pending = new Queue<string>();
        var visitedIds = new HashSet<string>(StringComparer.Ordinal) { agentId };
        pending.Enqueue(agentId);

        foreach (var alias in byParent[serverId].Where(e => e.Selectors.Count > 0 && e.Selectors.All(nodeSelectors.Contains)))
        {
            authorized[alias.Id] = alias;
            if (visitedIds.Add(alias.SpiffeId))
            {
                pending.Enqueue(alias.SpiffeId);
            }
        }

        while (pending.TryDequeue(out var parent))
        {
            foreach (var child in byParent[parent])
            {
                if (authorized.TryAdd(child.Id, child) && visitedIds.Add(child.SpiffeId))
                {
                    pending.Enqueue(child.SpiffeId);
                }
            }
        }

        return authorized.Values.OrderBy(e => e.Id, StringComparer.Ordinal).ToList();
    }
}
