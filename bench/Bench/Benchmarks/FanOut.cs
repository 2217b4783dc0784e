using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using MiniSpire.Proto;
using Spiffe.WorkloadApi.Proto;

namespace Bench.Benchmarks;

/// <summary>
/// 5. MiniSpire agent fan-out: N concurrent FetchX509SVID streams, then one entry change; the time until every
/// stream has received the re-issued SVID, and the agent's memory with all streams open.
/// </summary>
internal static class FanOut
{
    public const double TargetAllWithinMs = 1000;
    public const double TargetAgentRssMiB = 150;

    private const int OpeningAtOnce = 64;

    public static async Task RunAsync(BenchContext context, BenchmarkResult result)
    {
        var stack = await context.StackAsync();
        var sizes = context.Tiny ? [20] : context.Options.FanOut10k ? new[] { 1_000, 10_000 } : [1_000];
        var rotation = 0;
        foreach (var streams in sizes)
        {
            var perConnection = streams > 1_000 ? 10 : 1;
            var idle = ProcMemory.Read(stack.AgentProcessId);
            var outcome = await MeasureAsync(context, stack.AgentSocket, stack.ServerSocket, stack.AgentProcessId, streams, perConnection, ++rotation);
            var label = streams.ToString("N0", System.Globalization.CultureInfo.InvariantCulture) + " streams";
            if (streams == 1_000 || context.Tiny)
            {
                result.AddAtMost($"{label}: change to last stream updated", outcome.ChangeToLastMs, "ms", TargetAllWithinMs);
                result.AddAtMost($"{label}: agent RSS", outcome.AgentWithStreams.RssMiB, "MiB", TargetAgentRssMiB);
            }
            else
            {
                result.Add($"{label}: change to last stream updated", outcome.ChangeToLastMs, "ms");
                result.Add($"{label}: agent RSS", outcome.AgentWithStreams.RssMiB, "MiB");
            }

            result.Add($"{label}: first to last stream updated (fan-out)", outcome.FirstToLastMs, "ms");
            result.Add($"{label}: change to first stream updated", outcome.ChangeToFirstMs, "ms");
            result.Add($"{label}: time to open every stream", outcome.OpenMs, "ms");
            result.Add($"{label}: agent RSS before the streams", idle.RssMiB, "MiB");
            result.Add($"{label}: agent RSS after the rotation", outcome.AgentAfter.RssMiB, "MiB");
            result.Add($"{label}: agent threads with streams", outcome.AgentWithStreams.Threads, "threads");
            var window = CpuWindow(context).TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture) + " s";
            result.Add($"{label}: agent CPU, first {window} after the streams opened", outcome.Settling.Cores * 100, "% of a core");
            result.Add($"{label}: agent CPU, first {window}: the JIT's tiered compilation thread", outcome.Settling.JitCores * 100, "% of a core");
            result.Add($"{label}: agent CPU with the streams open and nothing changing (the next {window})", outcome.Idle.Cores * 100, "% of a core");
            result.Add($"{label}: agent CPU, next {window}: the JIT's tiered compilation thread", outcome.Idle.JitCores * 100, "% of a core");
        }

        result.Notes.Add("Streams come from the bench process over separate Unix socket connections (one stream per connection up to 1,000; ten per connection for 10,000, to stay within the file descriptor limit), each connection attested by the agent from its SO_PEERCRED credentials, as every workload is. They share one uid and so one registration entry: MiniSpire attests, matches and builds a response per stream either way, so per-stream agent work equals that of distinct workloads; only the SVID signing is shared (one SVID for the entry, as SPIRE does for workloads of the same entry). Truly distinct workloads with their own entries would add one signature per entry to a rotation, which benchmark 4 measures.");
        result.Notes.Add($"At most {OpeningAtOnce} streams are being opened at any moment (a connection counts as opening until its first SVID arrives): 1,000 simultaneous connect() calls overflow the agent socket's listen backlog and fail with EAGAIN, which a fleet of workloads starting over seconds does not do.");
        result.Notes.Add("Agent CPU is read from /proc/PID/stat over two consecutive windows after the last stream opened; the tiered compilation thread's share from /proc/PID/task/*/stat. In the first window the JIT is still recompiling, at tier 1, the code the stream openings made hot: a one-time cost of a JIT-compiled agent, not idle work.");
        result.Notes.Add($"The change is an UpdateEntry on the server's admin API (a DNS name added to the entry); the agent sees it at its next sync (sync_interval {BenchContext.AgentSyncInterval}), has the server sign a new SVID and pushes it to every stream. 'change to last' includes that sync wait; 'first to last' is the agent's fan-out alone. The client streams run in the bench process on the same cores as the agent and the server.");
    }

    private sealed record Outcome(double OpenMs, double ChangeToFirstMs, double ChangeToLastMs, double FirstToLastMs, ProcMemory AgentWithStreams, ProcMemory AgentAfter, CpuShare Settling, CpuShare Idle);

    /// <summary>The agent's CPU over a window, in cores, and the part of it spent by the JIT's tiered compilation thread.</summary>
    private sealed record CpuShare(double Cores, double JitCores);

    private static TimeSpan CpuWindow(BenchContext context) => TimeSpan.FromSeconds(context.Tiny ? 0.5 : 5);

    private const string TieredCompilationThread = ".NET Tiered Com";

    private static async Task<CpuShare> MeasureCpuAsync(int pid, TimeSpan window)
    {
        var cpuBefore = ProcMemory.CpuSeconds(pid);
        var jitBefore = ProcMemory.ThreadCpuSeconds(pid, TieredCompilationThread);
        var start = Stopwatch.GetTimestamp();
        await Task.Delay(window);
        var seconds = Posix.Milliseconds(start, Stopwatch.GetTimestamp()) / 1000;
        var cpuAfter = ProcMemory.CpuSeconds(pid);

        // Per thread: the runtime ends an idle tiered compilation thread and starts a new one when there is work
        // again. A thread that ended within the window is not counted, so this share can only be too low.
        var jit = ProcMemory.ThreadCpuSeconds(pid, TieredCompilationThread).Sum(t => t.Value - jitBefore.GetValueOrDefault(t.Key));
        return new CpuShare((cpuAfter - cpuBefore) / seconds, jit / seconds);
    }

    private static async Task<Outcome> MeasureAsync(
        BenchContext context, string agentSocket, string serverSocket, int agentPid, int streams, int perConnection, int rotation)
    {
        var channels = Enumerable.Range(0, (streams + perConnection - 1) / perConnection).Select(_ => BenchContext.WorkloadChannel(agentSocket)).ToList();
        using var stop = new CancellationTokenSource();
        var updated = new long[streams];
        var opened = 0;
        var allOpen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var allUpdated = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var remaining = streams;

        // Workloads start over time, not all in one instant: at most this many connections are being opened at
        // once, so the agent socket's listen backlog never overflows (connect() would fail with EAGAIN).
        using var opening = new SemaphoreSlim(OpeningAtOnce);
        var failure = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var laterMessages = 0;
        try
        {
            var openStart = Stopwatch.GetTimestamp();
            var readers = Enumerable.Range(0, streams).Select(i => Task.Run(async () =>
            {
                try
                {
                    await ReadAsync(i);
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    failure.TrySetException(e);
                }
            })).ToList();

            async Task ReadAsync(int i)
            {
                var client = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channels[i / perConnection]);
                AsyncServerStreamingCall<X509SVIDResponse> call;
                await opening.WaitAsync(stop.Token);
                try
                {
                    call = client.FetchX509SVID(new X509SVIDRequest(), BenchContext.SecurityHeader, cancellationToken: stop.Token);
                    if (!await call.ResponseStream.MoveNext(stop.Token))
                    {
                        throw new InvalidOperationException("a stream ended before its first SVID");
                    }
                }
                finally
                {
                    opening.Release();
                }

                using var _ = call;

                var before = call.ResponseStream.Current.Svids[0].X509Svid;
                if (Interlocked.Increment(ref opened) == streams)
                {
                    allOpen.TrySetResult();
                }

                while (await call.ResponseStream.MoveNext(stop.Token))
                {
                    Interlocked.Increment(ref laterMessages);
                    if (!call.ResponseStream.Current.Svids[0].X509Svid.Equals(before))
                    {
                        updated[i] = Stopwatch.GetTimestamp();
                        if (Interlocked.Decrement(ref remaining) == 0)
                        {
                            allUpdated.TrySetResult();
                        }

                        break;
                    }
                }
            }

            await WaitAsync(allOpen.Task, failure.Task, TimeSpan.FromSeconds(context.Tiny ? 60 : 300), () => $"every stream to receive its first SVID ({Volatile.Read(ref opened)} of {streams} did)");
            var openMs = Posix.Milliseconds(openStart, Stopwatch.GetTimestamp());
            var window = CpuWindow(context);
            var settling = await MeasureCpuAsync(agentPid, window);
            var idle = await MeasureCpuAsync(agentPid, window);
            var withStreams = ProcMemory.Read(agentPid);

            var change = Stopwatch.GetTimestamp();
            await ChangeEntryAsync(serverSocket, context.WorkloadEntryId, rotation);
            await WaitAsync(allUpdated.Task, failure.Task, TimeSpan.FromSeconds(context.Tiny ? 30 : 120), () => $"every stream to receive the re-issued SVID ({streams - Volatile.Read(ref remaining)} of {streams} did; {Volatile.Read(ref laterMessages)} later messages arrived in all; streams still waiting: {string.Join(", ", Enumerable.Range(0, streams).Where(i => Volatile.Read(ref updated[i]) == 0).Take(10))})");
            var first = updated.Min();
            var last = updated.Max();
            var after = ProcMemory.Read(agentPid);
            await stop.CancelAsync();
            await Task.WhenAll(readers);
            return new Outcome(openMs, Posix.Milliseconds(change, first), Posix.Milliseconds(change, last), Posix.Milliseconds(first, last), withStreams, after, settling, idle);
        }
        finally
        {
            await stop.CancelAsync();
            foreach (var channel in channels)
            {
                channel.Dispose();
            }
        }
    }

    /// <summary>Waits for <paramref name="done"/>; a stream's failure or the timeout ends the wait with an exception.</summary>
    private static async Task WaitAsync(Task done, Task failed, TimeSpan timeout, Func<string> what)
    {
        var finished = await Task.WhenAny(done, failed, Task.Delay(timeout));
        if (finished == failed)
        {
            await failed;
        }

        if (finished != done)
        {
            throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what()}");
        }
    }

    /// <summary>Adds a DNS name to the entry: a new revision, so the agent has its SVID re-signed.</summary>
    private static async Task ChangeEntryAsync(string serverSocket, string entryId, int rotation)
    {
        using var channel = BenchContext.WorkloadChannel(serverSocket);
        var admin = new Admin.AdminClient(channel);
        var entry = (await admin.ListEntriesAsync(new ListEntriesRequest { EntryId = entryId })).Entries.Single();
        entry.DnsNames.Add($"rotation-{rotation}.bench.example.org");
        await admin.UpdateEntryAsync(entry);
    }
}
