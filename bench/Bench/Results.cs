using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Bench;

/// <summary>Whether a figure reached its target.</summary>
internal enum Verdict
{
    /// <summary>No target applies (a reference or a supporting figure).</summary>
    None,
    Met,
    Missed,
}

/// <summary>One measured value, with its target when it has one.</summary>
internal sealed record Figure(string Name, double Value, string Unit, string Target = "", Verdict Verdict = Verdict.None);

/// <summary>What one benchmark measured: its figures and the notes that explain them.</summary>
internal sealed class BenchmarkResult(int number, string title)
{
    public int Number { get; } = number;

    public string Title { get; } = title;

    public List<Figure> Figures { get; } = [];

    public List<string> Notes { get; } = [];

    /// <summary>The error that stopped the benchmark, if one did.</summary>
    public string? Failure { get; set; }

    public void Add(string name, double value, string unit) => Figures.Add(new Figure(name, value, unit));

    /// <summary>A figure with a "no more than" target.</summary>
    public void AddAtMost(string name, double value, string unit, double target) =>
        Figures.Add(new Figure(name, value, unit, $"<= {Format(target)} {unit}", value <= target ? Verdict.Met : Verdict.Missed));

    /// <summary>A figure with a "no less than" target.</summary>
    public void AddAtLeast(string name, double value, string unit, double target) =>
        Figures.Add(new Figure(name, value, unit, $">= {Format(target)} {unit}", value >= target ? Verdict.Met : Verdict.Missed));

    public static string Format(double value) => value switch
    {
        >= 1000 => value.ToString("N0", CultureInfo.InvariantCulture),
        >= 100 => value.ToString("0.#", CultureInfo.InvariantCulture),
        >= 1 => value.ToString("0.##", CultureInfo.InvariantCulture),
        _ => value.ToString("0.###", CultureInfo.InvariantCulture),
    };
}

/// <summary>Writes the results as a table (stdout and latest.md) and as JSON (latest.json), and checks a JSON file's shape.</summary>
internal static class ResultsFile
{
    public static readonly int[] BenchmarkNumbers = [1, 2, 3, 4, 5, 6];

    public static string Table(IEnumerable<BenchmarkResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("| # | benchmark | figure | value | target | |");
        text.AppendLine("|---|---|---|---:|---|---|");
        foreach (var result in results)
        {
            if (result.Failure is not null)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"| {result.Number} | {result.Title} | FAILED | | | {result.Failure.Split('\n')[0]} |");
            }

            foreach (var figure in result.Figures)
            {
                var verdict = figure.Verdict switch { Verdict.Met => "met", Verdict.Missed => "**missed**", _ => string.Empty };
                text.AppendLine(CultureInfo.InvariantCulture, $"| {result.Number} | {result.Title} | {figure.Name} | {BenchmarkResult.Format(figure.Value)} {figure.Unit} | {figure.Target} | {verdict} |");
            }
        }

        return text.ToString();
    }

    public static string Markdown(Machine machine, BenchSize size, IReadOnlyList<BenchmarkResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("# Benchmark results");
        text.AppendLine();
        text.AppendLine("Written by `bash bench/run.sh` (bench/README.md explains each measurement). Do not edit by hand.");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"- date: {machine.Date}, size: {size.ToString().ToLowerInvariant()}");
        text.AppendLine(CultureInfo.InvariantCulture, $"- machine: {machine.ProcessorCount} CPUs ({machine.CpuModel}), {BenchmarkResult.Format(machine.MemoryMiB)} MiB RAM, Linux {machine.Kernel}");
        text.AppendLine(CultureInfo.InvariantCulture, $"- runtime: {machine.DotNet}; load average at start: {machine.LoadAverageAtStart}");
        text.AppendLine();
        text.AppendLine("Timing figures are only as good as the machine's quiet: a load average above the CPU count means other work");
        text.AppendLine("competed for the cores and inflated every latency. Why each missed target is missed, with measurements:");
        text.AppendLine("`bench/results/gaps.md`.");
        text.AppendLine();
        text.Append(Table(results));
        text.AppendLine();
        foreach (var result in results.Where(r => r.Notes.Count > 0 || r.Failure is not null))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"## {result.Number}. {result.Title}");
            text.AppendLine();
            if (result.Failure is not null)
            {
                text.AppendLine("```");
                text.AppendLine(result.Failure);
                text.AppendLine("```");
                text.AppendLine();
            }

            foreach (var note in result.Notes)
            {
                text.AppendLine("- " + note);
            }

            text.AppendLine();
        }

        return text.ToString();
    }

    public static byte[] Json(Machine machine, BenchSize size, IReadOnlyList<BenchmarkResult> results)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("size", size.ToString().ToLowerInvariant());
            json.WriteStartObject("machine");
            json.WriteNumber("nproc", machine.ProcessorCount);
            json.WriteString("cpu_model", machine.CpuModel);
            json.WriteString("kernel", machine.Kernel);
            json.WriteString("dotnet", machine.DotNet);
            json.WriteString("date", machine.Date);
            json.WriteString("load_average_at_start", machine.LoadAverageAtStart);
            json.WriteNumber("memory_mib", machine.MemoryMiB);
            json.WriteEndObject();
            json.WriteStartArray("benchmarks");
            foreach (var result in results)
            {
                json.WriteStartObject();
                json.WriteNumber("number", result.Number);
                json.WriteString("title", result.Title);
                if (result.Failure is not null)
                {
                    json.WriteString("failure", result.Failure);
                }

                json.WriteStartArray("figures");
                foreach (var figure in result.Figures)
                {
                    json.WriteStartObject();
                    json.WriteString("name", figure.Name);
                    json.WriteNumber("value", Math.Round(figure.Value, 4));
                    json.WriteString("unit", figure.Unit);
                    if (figure.Target.Length > 0)
                    {
                        json.WriteString("target", figure.Target);
                        json.WriteString("verdict", figure.Verdict.ToString().ToLowerInvariant());
                    }

                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteStartArray("notes");
                foreach (var note in result.Notes)
                {
                    json.WriteStringValue(note);
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>
    /// The problems with a results file: the machine description, and every benchmark present, not failed,
    /// with at least one figure, each a finite non-negative number with a unit. Nothing about speed.
    /// </summary>
    public static IReadOnlyList<string> Check(string path)
    {
        var problems = new List<string>();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is JsonException or IOException)
        {
            return [$"{path}: {e.Message}"];
        }

        using (document)
        {
            var root = document.RootElement;
            if (!root.TryGetProperty("machine", out var machine))
            {
                problems.Add("no \"machine\" object");
            }
            else
            {
                foreach (var key in new[] { "nproc", "cpu_model", "kernel", "dotnet", "date" })
                {
                    if (!machine.TryGetProperty(key, out _))
                    {
                        problems.Add($"machine.{key} is missing");
                    }
                }
            }

            var seen = new HashSet<int>();
            foreach (var benchmark in root.TryGetProperty("benchmarks", out var list) ? list.EnumerateArray() : Enumerable.Empty<JsonElement>())
            {
                var number = benchmark.GetProperty("number").GetInt32();
                seen.Add(number);
                if (benchmark.TryGetProperty("failure", out var failure))
                {
                    problems.Add($"benchmark {number} failed: {failure.GetString()}");
                }

                var figures = benchmark.GetProperty("figures");
                if (figures.GetArrayLength() == 0)
                {
                    problems.Add($"benchmark {number} has no figures");
                }

                foreach (var figure in figures.EnumerateArray())
                {
                    var value = figure.GetProperty("value").GetDouble();
                    var name = figure.GetProperty("name").GetString();
                    if (!double.IsFinite(value) || value < 0)
                    {
                        problems.Add($"benchmark {number}, {name}: {value} is not a finite non-negative number");
                    }

                    if (string.IsNullOrEmpty(figure.GetProperty("unit").GetString()))
                    {
                        problems.Add($"benchmark {number}, {name}: no unit");
                    }
                }
            }

            foreach (var missing in BenchmarkNumbers.Except(seen))
            {
                problems.Add($"benchmark {missing} is missing");
            }
        }

        return problems;
    }
}
