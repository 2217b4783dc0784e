using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Spiffe.Testing;
using Spiffe.WorkloadApi.Proto;

namespace Bench.Benchmarks;

/// <summary>
/// 3. Rotation latency: from the Workload API server sending a new X.509-SVID to the reload signal arriving
/// at the application whose pid is in the helper's pid_file_name, with the files switched in between, on
/// tmpfs and on disk. The server is the bench's in-process FakeWorkloadApi (a real gRPC server on a real
/// Unix socket), so rotations can be pushed back to back and timestamped at the moment of sending.
/// </summary>
internal static class RotationLatency
{
    public const double TargetP99TmpfsMs = 2;

    public static async Task RunAsync(BenchContext context, BenchmarkResult result)
    {
        var rotations = context.Tiny ? 5 : 500;
        using var ca = TestCertificateAuthority.Create();
        var svids = Enumerable.Range(0, rotations + 1).Select(_ => ca.Issue("/bench/rotating")).ToList();

        // The application: bench-signal-stamp (C, stamps where the signal arrives) when run.sh could compile it,
        // else bench-reference signals, whose .NET handler runs two thread wake-ups after the arrival.
        var stamp = Path.Combine(Path.GetDirectoryName(context.Options.Reference)!, "bench-signal-stamp");
        var dotnetApp = new Application(context.Options.Reference, ["signals"]);
        var application = File.Exists(stamp) ? new Application(stamp, []) : dotnetApp;

        var tmpfs = await MeasureOnTmpfsAsync(context, ca, svids, application);
        result.AddAtMost("tmpfs p99", tmpfs.Percentile(99), "ms", TargetP99TmpfsMs);
        result.Add("tmpfs p50", tmpfs.Median, "ms");
        result.Add("tmpfs max", tmpfs.Max, "ms");
        if (application != dotnetApp)
        {
            var viaDotnet = await MeasureOnTmpfsAsync(context, ca, svids, dotnetApp);
            result.Add("tmpfs p99, application in .NET", viaDotnet.Percentile(99), "ms");
            result.Add("tmpfs p50, application in .NET", viaDotnet.Median, "ms");
            result.Notes.Add("The application is `bench-signal-stamp` (bench/Reference/signal-stamp.c): it blocks SIGUSR1 and stamps CLOCK_MONOTONIC when sigwaitinfo() returns it, the moment the signal reaches the process. The rows \"application in .NET\" signal `bench-reference signals` instead: .NET runs a SIGUSR1 handler on a thread-pool thread after its signal thread has read the signal from a pipe, so those figures include two wake-ups of the application's threads.");
        }
        else
        {
            result.Notes.Add("No C compiler was found to build bench-signal-stamp: the application is `bench-reference signals`, whose .NET SIGUSR1 handler runs on a thread-pool thread, so the figures include two wake-ups of the application's threads.");
        }

        var floor = await SvidCryptoFloorAsync(context, ca, svids[1], rotations);
        result.Add("reference AOT: load leaf + import and match key + verify signature, median", floor.Total / 1000, "ms");
        result.Notes.Add($"The reference row is `bench-reference-client svid-crypto` (bench/ReferenceClient), a bare Native AOT program making, {rotations} times, the System.Security.Cryptography (OpenSSL) calls every rotated SVID needs whoever writes it: load the leaf certificate ({floor.Load:0} µs median), import the PKCS#8 key and compare its public key with the leaf's ({floor.Import:0} µs), verify the leaf's signature with the authority's key ({floor.Verify:0} µs). It is the part of the helper's latency that only a faster OpenSSL would remove.");

        var disk = await MeasureAsync(context, ca, svids, context.WorkDirectory("rotation-disk"), application);
        result.Add("disk p99", disk.Percentile(99), "ms");
        result.Add("disk p50", disk.Median, "ms");
        result.Add("disk max", disk.Max, "ms");

        result.Notes.Add($"{rotations} rotations per file system, one at a time: the bench hands a new X509SVIDResponse to its FakeWorkloadApi, whose FetchX509SVID stream stamps CLOCK_MONOTONIC when it starts writing the message to the helper (the start of the figure), and the application (its pid in pid_file_name, renew_signal SIGUSR1; which program, see below) stamps CLOCK_MONOTONIC when the signal reaches it. After each signal the bench checks that svid.pem on disk holds the certificate just sent.");
        result.Notes.Add("The helper's path is all in the figure: gRPC receive, parsing and verifying the SVID against the bundle, PEM encoding, the atomic_dir write (three files fsynced, the ..data symlink swap, directory fsyncs, the old generation removed), re-reading the pid file and kill(). A MiniSpire agent adds its own time before sending (benchmark 5 measures that fan-out); it is left out here so thousands of rotations take seconds, not TTL halves.");
        result.Notes.Add("Disk is the bench's work directory on the root file system; fsync there costs whatever the (virtual) disk charges.");
    }

    private static async Task<(double Load, double Import, double Verify, double Total)> SvidCryptoFloorAsync(BenchContext context, TestCertificateAuthority ca, TestSvid svid, int runs)
    {
        var directory = context.WorkDirectory("rotation-crypto");
        Directory.CreateDirectory(directory);
        await File.WriteAllBytesAsync(Path.Combine(directory, "leaf.der"), svid.Leaf.RawData);
        await File.WriteAllBytesAsync(Path.Combine(directory, "key.der"), svid.KeyPkcs8);
        await File.WriteAllBytesAsync(Path.Combine(directory, "authority.der"), ca.Root.RawData);
        try
        {
            var run = await ProcessRunner.RunAsync(context.Options.ReferenceClient, ["svid-crypto", directory, runs.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromMinutes(1));
            var medians = run.StandardOutput.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (run.ExitCode != 0 || medians.Length != 4)
            {
                throw new InvalidOperationException("bench-reference-client svid-crypto did not print four medians: " + run);
            }

            var values = medians.Select(m => double.Parse(m, CultureInfo.InvariantCulture)).ToArray();
            return (values[0], values[1], values[2], values[3]);
        }
        finally
        {
            File.Delete(Path.Combine(directory, "key.der"));
        }
    }

    private static async Task<Stats> MeasureOnTmpfsAsync(BenchContext context, TestCertificateAuthority ca, List<TestSvid> svids, Application application)
    {
        var root = Path.Combine("/dev/shm", "bench-rotation-" + Guid.NewGuid().ToString("N")[..10]);
        try
        {
            return await MeasureAsync(context, ca, svids, root, application);
        }
        finally
        {
            if (Directory.Exists(root))
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private static async Task<Stats> MeasureAsync(BenchContext context, TestCertificateAuthority ca, List<TestSvid> svids, string directory, Application app)
    {
        Directory.CreateDirectory(directory);
        var certDir = Path.Combine(directory, "certs");
        var pidFile = Path.Combine(directory, "app.pid");
        // The clock starts when the stream writes: the write goes to the socket on that thread, not through
        // Kestrel's I/O queue (a thread hand-off in the bench that an agent's send does not have).
        await using var api = await FakeWorkloadApi.StartAsync(sendInline: true);

        var signals = Channel.CreateUnbounded<long>();
        var ready = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var application = ChildProcess.Start(app.Program, [.. app.Arguments, pidFile], line =>
        {
            if (line.StartsWith("ready ", StringComparison.Ordinal))
            {
                ready.TrySetResult(long.Parse(line["ready ".Length..], CultureInfo.InvariantCulture));
            }
            else if (long.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var timestamp))
            {
                signals.Writer.TryWrite(timestamp);
                return false;
            }

            return true;
        });
        var frequency = await ready.Task.WaitAsync(TimeSpan.FromSeconds(30));
        if (frequency != Stopwatch.Frequency)
        {
            throw new InvalidOperationException($"the application's clock ticks at {frequency}/s, the bench's at {Stopwatch.Frequency}/s");
        }

        var config = HelperConfig.Write(directory, api.SocketPath, certDir, daemon: true, "renew_signal = \"SIGUSR1\"", $"pid_file_name = \"{pidFile}\"");
        await using var helper = ChildProcess.Start(context.Options.Helper, ["-config", config]);

        api.State.SetX509Response(ca.Response(svids[0]));
        await Posix.WaitUntilAsync(() => helper.HasExited || HelperConfig.AllThreeWritten(certDir), TimeSpan.FromSeconds(30), () => "the helper did not write its first files:\n" + helper.Output);
        await Task.Delay(300);
        while (signals.Reader.TryRead(out _))
        {
            // The first write may signal too; only rotations count.
        }

        var samples = new List<double>();
        foreach (var svid in svids.Skip(1))
        {
            var response = ca.Response(svid);
            var handedOver = Stopwatch.GetTimestamp();
            api.State.SetX509Response(response);
            long received;
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            {
                try
                {
                    received = await signals.Reader.ReadAsync(timeout.Token);
                }
                catch (OperationCanceledException)
                {
                    throw new TimeoutException("no reload signal within 10 s of a rotation:\n" + helper.Output);
                }
            }

            // The clock starts when the server's stream begins writing the message, not when the bench hands it to
            // the fake: that hand-off wakes a thread-pool thread of the bench, which no agent's sending involves.
            var sent = api.State.LastStreamWriteTimestamp;
            if (sent < handedOver || sent > received)
            {
                throw new InvalidOperationException("the fake Workload API's stream did not stamp the write of this rotation between the hand-off and the signal");
            }

            samples.Add(Posix.Milliseconds(sent, received));
            var onDisk = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(certDir, "svid.pem")));
            if (onDisk.SerialNumber != svid.Leaf.SerialNumber)
            {
                throw new InvalidOperationException($"after the signal, svid.pem holds serial {onDisk.SerialNumber}, not the rotated {svid.Leaf.SerialNumber}");
            }
        }

        return new Stats(samples);
    }

    /// <summary>The program whose pid goes into pid_file_name and whose output stamps each SIGUSR1.</summary>
    private sealed record Application(string Program, IReadOnlyList<string> Arguments);
}
