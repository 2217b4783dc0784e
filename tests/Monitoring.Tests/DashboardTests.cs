using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Spiffe.Testing;

namespace Monitoring.Tests;

/// <summary>The Grafana dashboard queries only metrics the helper's contract defines, in PromQL that Prometheus accepts.</summary>
public sealed partial class DashboardTests
{
    private static readonly string PrometheusExamples = Path.Combine(ProcessRunner.RepositoryRoot, "examples", "prometheus");
    private static readonly string DashboardFile = Path.Combine(PrometheusExamples, "spiffe-helper-dashboard.json");

    [Fact]
    public void Dashboard_EveryMetricItQueries_IsInTheContract_AndEveryContractMetricIsShown()
    {
        var queries = Queries();
        var contract = ContractMetricNames();

        Assert.Empty(NotInContract(queries, contract));
        var shown = queries.SelectMany(q => MetricName().Matches(q).Select(m => m.Value)).ToHashSet(StringComparer.Ordinal);
        Assert.All(contract, m => Assert.Contains(m, shown));
    }

    [Fact]
    public void NotInContract_AMisspelledMetric_IsCaught()
    {
        // Proves the check above can fail.
        Assert.Equal(["spiffe_helper_rotation_total"], NotInContract(["increase(spiffe_helper_rotation_total[1h])"], ContractMetricNames()));
    }

    [Fact]
    public async Task Dashboard_EveryQuery_IsValidPromQl()
    {
        // promtool has no "check expression"; each query becomes a recording rule, which it parses.
        var rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        var queries = Queries();
        for (var i = 0; i < queries.Count; i++)
        {
            var expr = queries[i].Replace("$instance", ".+", StringComparison.Ordinal);
            rules.Append("      - record: dashboard:query_").Append(i).Append('\n')
                .Append("        expr: ").Append(JsonSerializer.Serialize(expr)).Append('\n');
        }

        var file = Path.Combine(Path.GetTempPath(), "dashboard-rules-" + Guid.NewGuid().ToString("N") + ".yaml");
        await File.WriteAllTextAsync(file, rules.ToString());
        try
        {
            var result = await ProcessRunner.RunAsync("promtool", ["check", "rules", file], TimeSpan.FromMinutes(1));

            Assert.True(result.ExitCode == 0, result + "\n" + rules);
            Assert.Contains($"SUCCESS: {queries.Count} rules found", result.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Dashboard_Panels_HaveUniqueIdsTitlesAndAQueryEach()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(DashboardFile));
        var panels = json.RootElement.GetProperty("panels").EnumerateArray().ToList();

        Assert.Equal("spiffe-helper-rotation", json.RootElement.GetProperty("uid").GetString());
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        Assert.All(panels, p =>
        {
            Assert.False(string.IsNullOrWhiteSpace(p.GetProperty("title").GetString()));
            Assert.NotEmpty(p.GetProperty("targets").EnumerateArray());
        });
    }

    private static List<string> Queries()
    {
        using var json = JsonDocument.Parse(File.ReadAllText(DashboardFile));
        var queries = json.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!)
            .ToList();
        Assert.NotEmpty(queries);
        return queries;
    }

    private static List<string> NotInContract(IEnumerable<string> queries, IReadOnlyCollection<string> contract) =>
        queries.SelectMany(q => MetricName().Matches(q).Select(m => m.Value)).Where(m => !contract.Contains(m)).Distinct().ToList();

    /// <summary>Every metric name in the contract table of examples/prometheus/README.md.</summary>
    private static List<string> ContractMetricNames()
    {
        var names = File.ReadAllLines(Path.Combine(PrometheusExamples, "README.md"))
            .Where(l => l.StartsWith("| `spiffe_helper_", StringComparison.Ordinal))
            .Select(l => l.Split('`')[1])
            .ToList();
        Assert.Equal(17, names.Count);
        return names;
    }

    [GeneratedRegex("spiffe_helper_[a-z0-9_]+")]
    private static partial Regex MetricName();
}
