using System.Globalization;
using System.Runtime.InteropServices;

namespace Bench;

/// <summary>The machine and moment the figures came from.</summary>
internal sealed record Machine(
    int ProcessorCount, string CpuModel, string Kernel, string DotNet, string Date, string LoadAverageAtStart, double MemoryMiB)
{
    public static Machine Describe()
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
        var kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        var load = File.ReadAllText("/proc/loadavg").Trim();
        var memTotal = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        return new Machine(
            Environment.ProcessorCount,
            cpu,
            kernel,
            RuntimeInformation.FrameworkDescription,
            DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            load,
            Math.Round(long.Parse(memTotal, CultureInfo.InvariantCulture) / 1024.0));
    }
}
