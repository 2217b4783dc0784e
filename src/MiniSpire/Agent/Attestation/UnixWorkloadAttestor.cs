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

    /// <summary>
    /// The selectors of a process found by pid alone (the admin API's <c>attest -pid</c>), from its effective
    /// ids in <c>/proc</c>; null when the process is gone. Workload API callers go through
    /// <see cref="Attest(OpenedProcess, PeerCredentials)"/> instead.
    /// </summary>
    public IReadOnlyList<Selector>? Attest(int pid) =>
        processes.ReadIds(pid) is { } ids ? Build(pid, ids.Uid, ids.Gid, ids.SupplementaryGroups) : null;

    /// <summary>
    /// The selectors of a connected caller: uid and gid from the connection's peer credentials (fixed at
    /// <c>connect()</c>, unchanged by any later exec), supplementary groups (which exec never changes) read
    /// through the handle held on that very process; null when it is gone.
    /// </summary>
    public IReadOnlyList<Selector>? Attest(OpenedProcess process, PeerCredentials credentials)
    {
        ArgumentNullException.ThrowIfNull(process);
        return process.ReadIds() is { } ids ? Build(process.Pid, credentials.Uid, credentials.Gid, ids.SupplementaryGroups) : null;
    }

    private List<Selector> Build(int pid, uint uid, uint gid, IReadOnlyList<uint> supplementaryGroups)
    {
        var selectors = new List<Selector>
        {
            Unix("uid", uid),
            Unix("gid", gid),
        };
        if (users.UserName(uid) is { } user)
        {
            selectors.Add(new Selector(SelectorType, "user:" + user));
        }

        if (users.GroupName(gid) is { } group)
        {
            selectors.Add(new Selector(SelectorType, "group:" + group));
        }

        foreach (var supplementary in supplementaryGroups.Distinct())
        {
            selectors.Add(Unix("supplementary_gid", supplementary));
            if (users.GroupName(supplementary) is { } name)
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
