using System.Globalization;
using MiniSpire.Entries;

namespace MiniSpire.Agent.Attestation;

/// <summary>
/// SPIRE's unix workload attestor: selectors from a process's effective uid and gid, their names,
/// its supplementary groups and, when enabled, its executable's path and SHA-256.
/// </summary>
internal sealed class UnixWorkloadAttestor(ProcessInspector processes, UserDatabase users, bool discoverWorkloadPath)
{
    public const string SelectorType = "unix";

    /// <summary>The selectors of <paramref name="pid"/>, or null when the process is gone.</summary>
    public IReadOnlyList<Selector>? Attest(int pid)
    {
        var ids = processes.ReadIds(pid);
        if (ids is null)
        {
            return null;
        }

        var selectors = new List<Selector>
        {
            Unix("uid", ids.Uid),
            Unix("gid", ids.Gid),
        };
        if (users.UserName(ids.Uid) is { } user)
        {
            selectors.Add(new Selector(SelectorType, "user:" + user));
        }

        if (users.GroupName(ids.Gid) is { } group)
        {
            selectors.Add(new Selector(SelectorType, "group:" + group));
        }

        foreach (var gid in ids.SupplementaryGroups.Distinct())
        {
            selectors.Add(Unix("supplementary_gid", gid));
            if (users.GroupName(gid) is { } name)
            {
                selectors.Add(new Selector(SelectorType, "supplementary_group:" + name));
            }
        }

        if (discoverWorkloadPath)
        {
            if (processes.ReadExecutablePath(pid) is { } path)
            {
                selectors.Add(new Selector(SelectorType, "path:" + path));
            }

            if (processes.ComputeExecutableSha256(pid) is { } sha256)
            {
                selectors.Add(new Selector(SelectorType, "sha256:" + sha256));
            }
        }

        return selectors;
    }

    private static Selector Unix(string kind, uint id) => new(SelectorType, kind + ":" + id.ToString(CultureInfo.InvariantCulture));
}
