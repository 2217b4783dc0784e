using System.Globalization;
using System.Security.Cryptography;

namespace MiniSpire.Agent.Attestation;

/// <summary>What <c>/proc/&lt;pid&gt;</c> says about a process. Every read may fail if the process has exited.</summary>
internal sealed class ProcessInspector(string procRoot = "/proc")
{
    /// <summary>The process start time in clock ticks since boot (field 22 of <c>stat</c>); null when gone.</summary>
    public ulong? ReadStartTime(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText(Path.Combine(procRoot, pid.ToString(CultureInfo.InvariantCulture), "stat"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // The command name (field 2) is in parentheses and may contain spaces or ')': fields resume after the last ')'.
        var afterName = stat.LastIndexOf(')');
        if (afterName < 0)
        {
            return null;
        }

        var fields = stat[(afterName + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);

        // fields[0] is field 3 (state), so field 22 is fields[19].
        return fields.Length > 19 && ulong.TryParse(fields[19], CultureInfo.InvariantCulture, out var ticks) ? ticks : null;
    }

    /// <summary>Effective uid and gid and the supplementary groups (<c>status</c>); null when gone.</summary>
    public ProcessIds? ReadIds(int pid)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(Path.Combine(procRoot, pid.ToString(CultureInfo.InvariantCulture), "status"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        uint? uid = null, gid = null;
        var groups = new List<uint>();
        foreach (var line in lines)
        {
            // "Uid:\treal\teffective\tsaved\tfs"
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                uid = Field(line, 2);
            }
            else if (line.StartsWith("Gid:", StringComparison.Ordinal))
            {
                gid = Field(line, 2);
            }
            else if (line.StartsWith("Groups:", StringComparison.Ordinal))
            {
                foreach (var group in line["Groups:".Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                {
                    if (uint.TryParse(group, CultureInfo.InvariantCulture, out var g))
                    {
                        groups.Add(g);
                    }
                }
            }
        }

        return uid is { } u && gid is { } g2 ? new ProcessIds(u, g2, groups) : null;
    }

    /// <summary>The executable's path (<c>exe</c> link); null when gone or not readable.</summary>
    public string? ReadExecutablePath(int pid)
    {
        try
        {
            return new FileInfo(Path.Combine(procRoot, pid.ToString(CultureInfo.InvariantCulture), "exe")).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>SHA-256 of the executable, read through <c>/proc</c> so a replaced file on disk does not fool it.</summary>
    public string? ComputeExecutableSha256(int pid)
    {
        try
        {
            using var stream = File.OpenRead(Path.Combine(procRoot, pid.ToString(CultureInfo.InvariantCulture), "exe"));
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static uint? Field(string line, int index)
    {
        var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return parts.Length > index && uint.TryParse(parts[index], CultureInfo.InvariantCulture, out var value) ? value : null;
    }
}

/// <summary>The effective ids of a process and its supplementary groups.</summary>
internal sealed record ProcessIds(uint Uid, uint Gid, IReadOnlyList<uint> SupplementaryGroups);
