using System.Diagnostics;

namespace Bench.Benchmarks;

/// <summary>
/// 2. One-shot cold start: process start to the three files written and exit, against the already running
/// MiniSpire agent, for the AOT and the JIT builds, beside the reference program writing one file.
/// </summary>
internal static class ColdStart
{
    /// <summary>The Go spiffe-helper takes 6-7.5 ms here; the target is to be faster.</summary>
    public const double TargetMedianMs = 6;

    public static async Task RunAsync(BenchContext context, BenchmarkResult result)
    {
        var stack = await context.StackAsync();
        var runs = context.Tiny ? 3 : 100;
        var jitRuns = context.Tiny ? 3 : 30;

        var aot = await MeasureHelperAsync(context, context.Options.Helper, stack.AgentSocket, runs, "cold-aot");
        result.AddAtMost("AOT helper median", aot.Median, "ms", TargetMedianMs);
        result.Add("AOT helper p90", aot.Percentile(90), "ms");
        result.Add("AOT helper min", aot.Min, "ms");

        var jit = await MeasureHelperAsync(context, context.Options.HelperJit, stack.AgentSocket, jitRuns, "cold-jit");
        result.Add("JIT helper median", jit.Median, "ms");
        result.Add("JIT helper p90", jit.Percentile(90), "ms");

        var directory = context.WorkDirectory("cold-reference");
        var reference = await MeasureAsync(runs, context.Options.Reference, i => ["write", Path.Combine(directory, $"file-{i}")], _ => { });
        result.Add("reference AOT write-a-file median", reference.Median, "ms");
        result.Add("reference AOT write-a-file p90", reference.Percentile(90), "ms");

        result.Notes.Add($"{runs} runs each ({jitRuns} for JIT) after one unmeasured warm-up run; wall time from Process.Start in the bench to the exit being reaped, so the bench's own fork/exec cost is in every figure, the reference's too. Each run writes into a fresh directory and must exit 0 with all three files present.");
        result.Notes.Add("The JIT build is the framework-dependent apphost of src/SpiffeHelper (bin/Release), started the same way.");
        result.Notes.Add("The Go spiffe-helper takes 6-7.5 ms here against a local Workload API (figure from the issue, not measured in this run).");
    }

    private static async Task<Stats> MeasureHelperAsync(BenchContext context, string helper, string agentSocket, int runs, string name)
    {
        var directory = context.WorkDirectory(name);
        var certDir = Path.Combine(directory, "certs");
        var config = HelperConfig.Write(directory, agentSocket, certDir, daemon: false);
        return await MeasureAsync(runs, helper, _ => ["-config", config], exitedOk =>
        {
            if (!HelperConfig.AllThreeWritten(certDir))
            {
                throw new InvalidOperationException($"{helper} exited 0 without writing the three files into {certDir}");
            }

            Directory.Delete(certDir, recursive: true);
        });
    }

    /// <summary>Runs the program <paramref name="runs"/> + 1 times (the first unmeasured), checking each run.</summary>
    private static async Task<Stats> MeasureAsync(int runs, string program, Func<int, string[]> arguments, Action<int> check)
    {
        var samples = new List<double>();
        for (var i = 0; i <= runs; i++)
        {
            var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in arguments(i))
            {
                info.ArgumentList.Add(argument);
            }

            var start = Stopwatch.GetTimestamp();
            using var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            var end = Stopwatch.GetTimestamp();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"{program} exited with {process.ExitCode}:\n{await stdout}\n{await stderr}");
            }

            check(i);
            if (i > 0)
            {
                samples.Add(Posix.Milliseconds(start, end));
            }
        }

        return new Stats(samples);
    }
}
