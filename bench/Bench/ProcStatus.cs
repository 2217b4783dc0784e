using System.Globalization;

namespace Bench;

/// <summary>The memory lines of <c>/proc/PID/status</c>, in MiB.</summary>
internal sealed record ProcMemory(double RssMiB, double RssAnonMiB, double RssFileMiB, double PeakRssMiB, int Threads)
{
    public static ProcMemory Read(int pid)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines($"/proc/{pid}/status"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                fields[line[..colon]] = line[(colon + 1)..].Trim();
            }
        }

        double MiB(string key) => fields.TryGetValue(key, out var value)
            ? long.Parse(value.Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0
            : throw new InvalidDataException($"/proc/{pid}/status has no {key} line");

        return new ProcMemory(MiB("VmRSS"), MiB("RssAnon"), MiB("RssFile"), MiB("VmHWM"), int.Parse(fields["Threads"], CultureInfo.InvariantCulture));
    }

    /// <summary>utime + stime of a process from <c>/proc/PID/stat</c>, in seconds (USER_HZ is 100 on Linux).</summary>
    public static double CpuSeconds(int pid) => CpuSecondsOf(File.ReadAllText($"/proc/{pid}/stat"));

    /// <summary>
    /// utime + stime, in seconds, of each thread of <paramref name="pid"/> whose name starts with
    /// <paramref name="threadNamePrefix"/> (<c>/proc/PID/task/TID/stat</c>), by thread id; threads that exit
    /// while being read are left out.
    /// </summary>
    public static Dictionary<int, double> ThreadCpuSeconds(int pid, string threadNamePrefix)
    {
        var byThread = new Dictionary<int, double>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var open = stat.IndexOf('(', StringComparison.Ordinal);
                var close = stat.LastIndexOf(')');
                if (!stat[(open + 1)..close].StartsWith(threadNamePrefix, StringComparison.Ordinal))
                {
                    continue;
                }

                byThread[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = CpuSecondsOf(stat);
            }
            catch (IOException)
            {
                // The thread exited while we read.
            }
        }

        return byThread;
    }

    /// <summary>utime + stime from a <c>stat</c> line; the fields are counted after the name, which may hold spaces.</summary>
    private static double CpuSecondsOf(string stat)
    {
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }
}
