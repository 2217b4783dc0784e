using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Bench;

/// <summary>
/// A long-running child process (the helper in daemon mode, the reference program) whose output is drained
/// into memory so it never blocks on a full pipe, and shown when something goes wrong.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Func<string, bool>? _onLine;

    private ChildProcess(Process process, Func<string, bool>? onLine)
    {
        _process = process;
        _onLine = onLine;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts <paramref name="fileName"/>; <paramref name="onStdoutLine"/> sees each stdout line as it arrives
    /// and returns whether to keep it in <see cref="Output"/>.
    /// </summary>
    public static ChildProcess Start(string fileName, IEnumerable<string> arguments, Func<string, bool>? onStdoutLine = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"{fileName} did not start");
        var child = new ChildProcess(process, onStdoutLine);
        process.OutputDataReceived += (_, e) => child.Record(e.Data, fromStdout: true);
        process.ErrorDataReceived += (_, e) => child.Record(e.Data, fromStdout: false);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>SIGTERM, then SIGKILL if it has not exited within five seconds.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _ = Posix.Kill(_process.Id, Posix.SIGTERM);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
    }

    private void Record(string? line, bool fromStdout)
    {
        if (line is null || (fromStdout && _onLine is not null && !_onLine(line)))
        {
            return;
        }

        lock (_output)
        {
            // Keep the start and the end of a chatty process's output, not all of it.
            if (_output.Length > 64 * 1024)
            {
                _output.Remove(16 * 1024, _output.Length - (32 * 1024));
                _output.Insert(16 * 1024, "\n[...]\n");
            }

            _output.AppendLine(line);
        }
    }
}

/// <summary>Small things the benchmarks need from the system.</summary>
internal static partial class Posix
{
    public const int SIGTERM = 15;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    public static int Kill(int pid, int signal) => KillNative(pid, signal) == 0 ? 0 : System.Runtime.InteropServices.Marshal.GetLastPInvokeError();

    private const int ClockThreadCpuTime = 3; // CLOCK_THREAD_CPUTIME_ID

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "clock_gettime", SetLastError = true)]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>The CPU time the calling thread has used, in TimeSpan ticks (100 ns).</summary>
    public static long ThreadCpuTicks() => ClockGetTime(ClockThreadCpuTime, out var time) == 0
        ? (time.Seconds * TimeSpan.TicksPerSecond) + (time.Nanoseconds / 100)
        : throw new InvalidOperationException($"clock_gettime failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    /// <summary>The real uid of this process, from /proc (the Unix workload attestor selects on it).</summary>
    public static int Uid() => int.Parse(
        File.ReadLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1],
        CultureInfo.InvariantCulture);

    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Waits until <paramref name="condition"/> holds, polling every millisecond, or throws after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> whatFailed)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (!condition())
        {
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException(whatFailed());
            }

            await Task.Delay(1);
        }
    }

    public static double Milliseconds(long fromTimestamp, long toTimestamp) => (toTimestamp - fromTimestamp) * 1000.0 / Stopwatch.Frequency;
}

/// <summary>A spiffe-helper config file (TOML) as the benchmarks need it.</summary>
internal static class HelperConfig
{
    public static string Write(string directory, string agentSocket, string certDir, bool daemon, params string[] extraLines)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "helper.conf");
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"agent_address = \"{agentSocket}\"");
        text.AppendLine(CultureInfo.InvariantCulture, $"cert_dir = \"{certDir}\"");
        text.AppendLine("svid_file_name = \"svid.pem\"");
        text.AppendLine("svid_key_file_name = \"svid_key.pem\"");
        text.AppendLine("svid_bundle_file_name = \"svid_bundle.pem\"");
        text.AppendLine(daemon ? "daemon_mode = true" : "daemon_mode = false");
        text.AppendLine("one_shot_timeout = \"30s\"");
        foreach (var line in extraLines.Where(l => !l.StartsWith('[')))
        {
            text.AppendLine(line);
        }

        // Table sections last: TOML keys after a [table] header belong to it.
        foreach (var line in extraLines.Where(l => l.StartsWith('[')))
        {
            text.AppendLine(line.Replace(";", "\n", StringComparison.Ordinal));
        }

        File.WriteAllText(path, text.ToString());
        return path;
    }

    public static bool AllThreeWritten(string certDir) =>
        File.Exists(Path.Combine(certDir, "svid.pem")) && File.Exists(Path.Combine(certDir, "svid_key.pem")) && File.Exists(Path.Combine(certDir, "svid_bundle.pem"));
}
