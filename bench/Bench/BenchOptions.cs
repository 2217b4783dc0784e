namespace Bench;

/// <summary>How big a run is: <see cref="Tiny"/> exercises every path once (CI), <see cref="Full"/> gives figures.</summary>
internal enum BenchSize
{
    Tiny,
    Full,
}

/// <summary>The command line of <c>bench run</c>; every path is checked before anything starts.</summary>
internal sealed record BenchOptions
{
    public required BenchSize Size { get; init; }

    /// <summary>The Native AOT spiffe-helper.</summary>
    public required string Helper { get; init; }

    /// <summary>The JIT (framework-dependent) spiffe-helper apphost.</summary>
    public required string HelperJit { get; init; }

    /// <summary>minispire.dll, run with <c>dotnet</c>.</summary>
    public required string MiniSpire { get; init; }

    /// <summary>The bare Native AOT reference program (bench/Reference).</summary>
    public required string Reference { get; init; }

    /// <summary>The Native AOT library floors: one Grpc.Net.Client call, one certificate (bench/ReferenceClient).</summary>
    public required string ReferenceClient { get; init; }

    /// <summary>Where latest.md and latest.json go.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Scratch space on disk (not tmpfs).</summary>
    public required string WorkDirectory { get; init; }

    /// <summary>Benchmark numbers to run (1-6); all when empty.</summary>
    public IReadOnlySet<int> Only { get; init; } = new HashSet<int>();

    /// <summary>Also run 10,000 fan-out streams.</summary>
    public bool FanOut10k { get; init; }

    /// <summary>Also measure the helper's idle memory under GC setting variants.</summary>
    public bool GcVariants { get; init; }

    public bool Runs(int benchmark) => Only.Count == 0 || Only.Contains(benchmark);

    public const string Usage = """
        usage: bench run --helper PATH --helper-jit PATH --minispire DLL --reference PATH --reference-client PATH
                         --out DIR --work DIR
                         [--size tiny|full] [--only 1,2,...] [--fanout-10k] [--gc-variants]
               bench verify RESULTS.json
        """;

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        var flags = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "--fanout-10k" or "--gc-variants")
            {
                flags.Add(arg);
            }
            else if (arg.StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Count)
            {
                values[arg] = args[++i];
            }
            else
            {
                throw new ArgumentException($"unexpected argument \"{arg}\"\n{Usage}");
            }
        }

        var errors = new List<string>();
        string File(string key)
        {
            if (!values.TryGetValue(key, out var path))
            {
                errors.Add($"{key} is required");
                return string.Empty;
            }

            path = Path.GetFullPath(path);
            if (!System.IO.File.Exists(path))
            {
                errors.Add($"{key}: {path} does not exist");
            }

            return path;
        }

        string Directory(string key)
        {
            if (!values.TryGetValue(key, out var path))
            {
                errors.Add($"{key} is required");
                return string.Empty;
            }

            return Path.GetFullPath(path);
        }

        var size = values.GetValueOrDefault("--size", "full") switch
        {
            "tiny" => BenchSize.Tiny,
            "full" => BenchSize.Full,
            var other => Invalid(errors, $"--size: \"{other}\" is not tiny or full", BenchSize.Tiny),
        };
        var only = new HashSet<int>();
        if (values.TryGetValue("--only", out var list))
        {
            foreach (var item in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (int.TryParse(item, out var n) && n is >= 1 and <= 6)
                {
                    only.Add(n);
                }
                else
                {
                    errors.Add($"--only: \"{item}\" is not a benchmark number 1-6");
                }
            }
        }

        var options = new BenchOptions
        {
            Size = size,
            Helper = File("--helper"),
            HelperJit = File("--helper-jit"),
            MiniSpire = File("--minispire"),
            Reference = File("--reference"),
            ReferenceClient = File("--reference-client"),
            OutputDirectory = Directory("--out"),
            WorkDirectory = Directory("--work"),
            Only = only,
            FanOut10k = flags.Contains("--fanout-10k"),
            GcVariants = flags.Contains("--gc-variants"),
        };
        foreach (var key in values.Keys.Except(["--size", "--helper", "--helper-jit", "--minispire", "--reference", "--reference-client", "--out", "--work", "--only"]))
        {
            errors.Add($"unknown option {key}");
        }

        return errors.Count == 0 ? options : throw new ArgumentException(string.Join("\n", errors) + "\n" + Usage);
    }

    private static T Invalid<T>(List<string> errors, string error, T fallback)
    {
        errors.Add(error);
        return fallback;
    }
}
