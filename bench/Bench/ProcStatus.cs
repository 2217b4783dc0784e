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
}
