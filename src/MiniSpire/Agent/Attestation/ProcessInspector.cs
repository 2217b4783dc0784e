using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace MiniSpire.Agent.Attestation;

/// <summary>What <c>/proc/&lt;pid&gt;</c> says about a process. Every read may fail if the process has exited.</summary>
internal sealed class ProcessInspector(string procRoot = "/proc")
{
    /// <summary>The process start time in clock ticks since boot (field 22 of <c>stat</c>); null when gone.</summary>
    public ulong? ReadStartTime(int pid) => ReadText(pid, "stat") is { } stat ? ParseStartTime(stat) : null;

    /// <summary>Effective uid and gid and the supplementary groups (<c>status</c>); null when gone.</summary>
    public ProcessIds? ReadIds(int pid) => ReadText(pid, "status") is { } status ? ParseIds(status) : null;

    /// <summary>
    /// Opens <c>stat</c> and <c>status</c> of <paramref name="pid"/> and keeps them open, so every later read
    /// is of this very process: once it exits, reads fail even if its pid is given to another process.
    /// Null when the process is already gone.
    /// </summary>
    public OpenedProcess? Open(int pid)
    {
        SafeFileHandle? stat = null;
        try
        {
            stat = File.OpenHandle(ProcPath(pid, "stat"));
            var status = File.OpenHandle(ProcPath(pid, "status"));
            return new OpenedProcess(pid, stat, status);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            stat?.Dispose();
            return null;
        }
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

    /// <summary>Field 22 of a <c>stat</c> text; null when malformed.</summary>
    internal static ulong? ParseStartTime(string stat)
    {
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

    /// <summary>The effective ids and supplementary groups of a <c>status</c> text; null when malformed.</summary>
    internal static ProcessIds? ParseIds(string status)
    {
        uint? uid = null, gid = null;
        var groups = new List<uint>();
        foreach (var line in status.Split('\n'))
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

    private string? ReadText(int pid, string file)
    {
        try
        {
            return File.ReadAllText(ProcPath(pid, file));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private string ProcPath(int pid, string file) => Path.Combine(procRoot, pid.ToString(CultureInfo.InvariantCulture), file);

    private static uint? Field(string line, int index)
    {
        var parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return parts.Length > index && uint.TryParse(parts[index], CultureInfo.InvariantCulture, out var value) ? value : null;
    }
}

/// <summary>The effective ids of a process and its supplementary groups.</summary>
internal sealed record ProcessIds(uint Uid, uint Gid, IReadOnlyList<uint> SupplementaryGroups);

/// <summary>
/// A process held open through <c>/proc/&lt;pid&gt;/stat</c> and <c>status</c> handles (SPIRE's peer tracker
/// holds the <c>/proc/&lt;pid&gt;</c> directory for the same reason): the handles stay bound to the process
/// they were opened on, so reads fail once it exits instead of describing a new process with the same pid.
/// </summary>
internal sealed class OpenedProcess(int pid, SafeFileHandle stat, SafeFileHandle status) : IDisposable
{
    public int Pid { get; } = pid;

    /// <summary>The start time (field 22 of <c>stat</c>); null when the process has exited.</summary>
    public ulong? ReadStartTime() => Read(stat) is { } text ? ProcessInspector.ParseStartTime(text) : null;

    /// <summary>The effective ids and supplementary groups; null when the process has exited.</summary>
    public ProcessIds? ReadIds() => Read(status) is { } text ? ProcessInspector.ParseIds(text) : null;

    public void Dispose()
    {
        stat.Dispose();
        status.Dispose();
    }

    private static string? Read(SafeFileHandle handle)
    {
        // /proc files report size 0: read from offset 0 until a short read. pread keeps concurrent readers apart.
        var buffer = new byte[4096];
        var length = 0;
        try
        {
            while (true)
            {
                var read = RandomAccess.Read(handle, buffer.AsSpan(length), length);
                if (read == 0)
                {
                    break;
                }

                length += read;
                if (length == buffer.Length)
                {
                    Array.Resize(ref buffer, buffer.Length * 2);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            return null;
        }

        return Encoding.UTF8.GetString(buffer, 0, length);
    }
}
