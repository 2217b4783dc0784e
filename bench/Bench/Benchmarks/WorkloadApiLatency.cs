using System.Diagnostics;
using Spiffe.WorkloadApi.Proto;

namespace Bench.Benchmarks;

/// <summary>
/// 6. Workload API latency on a warm agent: a new connection, the agent's attestation of the caller, and
/// the first X.509 message, one after another.
/// </summary>
internal static class WorkloadApiLatency
{
    public const double TargetP50Ms = 2;

    public static async Task RunAsync(BenchContext context, BenchmarkResult result)
    {
        var stack = await context.StackAsync();
        var iterations = context.Tiny ? 10 : 1_000;
        var warmUp = context.Tiny ? 2 : 50;
        var samples = new List<double>();
        for (var i = 0; i < warmUp + iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            using (var channel = BenchContext.WorkloadChannel(stack.AgentSocket))
            {
                var client = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel);
                using var call = client.FetchX509SVID(new X509SVIDRequest(), BenchContext.SecurityHeader);
                if (!await call.ResponseStream.MoveNext(CancellationToken.None) || call.ResponseStream.Current.Svids.Count == 0)
                {
                    throw new InvalidOperationException("the agent ended the stream without an X.509-SVID");
                }
            }

            if (i >= warmUp)
            {
                samples.Add(Posix.Milliseconds(start, Stopwatch.GetTimestamp()));
            }
        }

        var stats = new Stats(samples);
        result.AddAtMost("p50", stats.Median, "ms", TargetP50Ms);
        result.Add("p99", stats.Percentile(99), "ms");
        result.Add("min", stats.Min, "ms");
        result.Notes.Add($"{iterations} sequential calls after {warmUp} unmeasured ones; each opens a new Unix socket connection (a new gRPC channel and HTTP/2 connection from the bench's .NET client), calls FetchX509SVID, and stops the clock when the first message has been received, then closes the connection. The agent reads SO_PEERCRED and the process start time when it accepts the connection and attests the caller from /proc on the call.");
    }
}
