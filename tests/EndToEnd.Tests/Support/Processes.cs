using System.Diagnostics;
using Spiffe.Testing;

namespace EndToEnd.Tests.Support;

internal static class Processes
{
    /// <summary>Starts a process whose output is read and dropped, so that a full pipe never blocks it.</summary>
    public static Process StartDrained(ProcessStartInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Starts the published AOT spiffe-helper with <paramref name="config"/>.</summary>
    public static Process StartHelper(string config)
    {
        var info = new ProcessStartInfo(PublishedHelperBinary.Get());
        info.ArgumentList.Add("-config");
        info.ArgumentList.Add(config);
        return StartDrained(info);
    }

    /// <summary>The value of the Prometheus sample line that starts with <paramref name="series"/>, or null.</summary>
    public static double? SampleValue(string text, string series)
    {
        ArgumentNullException.ThrowIfNull(text);
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? null : double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
