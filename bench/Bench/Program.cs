using System.Text;
using Bench;
using Bench.Benchmarks;

// bench run ...     runs the benchmarks, prints the table, writes latest.md and latest.json
// bench verify F    checks that a results file is well formed (CI runs it after a tiny run)
if (args is ["verify", var path])
{
    var problems = ResultsFile.Check(path);
    foreach (var problem in problems)
    {
        Console.Error.WriteLine($"bench: {path}: {problem}");
    }

    Console.WriteLine(problems.Count == 0 ? $"bench: {path} is well formed" : $"bench: {problems.Count} problem(s) in {path}");
    return problems.Count == 0 ? 0 : 1;
}

if (args is not ["run", .. var runArgs])
{
    Console.Error.WriteLine(BenchOptions.Usage);
    return 2;
}

BenchOptions options;
try
{
    options = BenchOptions.Parse(runArgs);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine("bench: " + e.Message);
    return 2;
}

var machine = Machine.Describe();
var benchmarks = new (int Number, string Title, Func<BenchContext, BenchmarkResult, Task> Run)[]
{
    (1, "helper idle memory (AOT, daemon)", IdleMemory.RunAsync),
    (2, "one-shot cold start", ColdStart.RunAsync),
    (3, "rotation latency", RotationLatency.RunAsync),
    (4, "MiniSpire server issuance", Issuance.RunAsync),
    (5, "MiniSpire agent fan-out", FanOut.RunAsync),
    (6, "Workload API latency (warm agent)", WorkloadApiLatency.RunAsync),
};

Directory.CreateDirectory(options.WorkDirectory);
var results = new List<BenchmarkResult>();
await using (var context = new BenchContext(options))
{
    foreach (var (number, title, run) in benchmarks.Where(b => options.Runs(b.Number)))
    {
        var result = new BenchmarkResult(number, title);
        Console.Error.WriteLine($"bench: {number}. {title}");
        try
        {
            await run(context, result);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // One broken benchmark must not hide the others' figures; the results file says what failed.
            result.Failure = e.ToString();
            if (context.StackOutput.Length > 0)
            {
                result.Failure += "\nMiniSpire output:\n" + string.Join('\n', context.StackOutput.Split('\n').TakeLast(60));
            }

            Console.Error.WriteLine($"bench: {number}. {title} FAILED: {e}");
        }

        results.Add(result);
    }
}

Directory.CreateDirectory(options.OutputDirectory);
var markdown = ResultsFile.Markdown(machine, options.Size, results);
await File.WriteAllTextAsync(Path.Combine(options.OutputDirectory, "latest.md"), markdown, new UTF8Encoding(false));
await File.WriteAllBytesAsync(Path.Combine(options.OutputDirectory, "latest.json"), ResultsFile.Json(machine, options.Size, results));
Console.WriteLine(ResultsFile.Table(results));
Console.WriteLine($"bench: results in {Path.Combine(options.OutputDirectory, "latest.md")} and latest.json");
return results.Any(r => r.Failure is not null) ? 1 : 0;
