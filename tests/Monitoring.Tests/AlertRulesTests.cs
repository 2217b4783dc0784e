using Spiffe.Testing;

namespace Monitoring.Tests;

/// <summary>The alert rules users deploy, checked and unit-tested by Prometheus's own promtool.</summary>
public sealed class AlertRulesTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(1);
    private static readonly string RulesFile = Path.Combine(ProcessRunner.RepositoryRoot, "examples", "prometheus", "spiffe-helper.rules.yaml");
    private static readonly string TestsFile = Path.Combine(ProcessRunner.RepositoryRoot, "tests", "Monitoring.Tests", "spiffe-helper.rules.test.yaml");

    [Fact]
    public async Task CheckRules_ShippedRules_AreValid()
    {
        var result = await ProcessRunner.RunAsync("promtool", ["check", "rules", RulesFile], Timeout);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("SUCCESS: 6 rules found", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestRules_EveryAlertFiresAndStaysQuietWhenItShould()
    {
        var result = await ProcessRunner.RunAsync("promtool", ["test", "rules", TestsFile], Timeout, Path.GetDirectoryName(TestsFile));

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("SUCCESS", result.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestRules_CoverEveryAlertFiringAndNotFiring()
    {
        var rules = await File.ReadAllTextAsync(RulesFile);
        var tests = await File.ReadAllTextAsync(TestsFile);
        var alerts = rules.Split('\n').Where(l => l.TrimStart().StartsWith("- alert: ", StringComparison.Ordinal))
            .Select(l => l.Trim()["- alert: ".Length..]).ToList();

        Assert.Equal(6, alerts.Count);
        foreach (var alert in alerts)
        {
            var blocks = tests.Split("alertname: " + alert + "\n").Skip(1).Select(b => b.Split("alertname:")[0]).ToList();
            Assert.Contains(blocks, b => b.Contains("exp_alerts: []", StringComparison.Ordinal));
            Assert.Contains(blocks, b => b.Contains("exp_labels:", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task TestRules_BrokenThreshold_IsCaught()
    {
        // Proves the harness can fail: the same tests against a rule whose threshold is wrong.
        var directory = Directory.CreateTempSubdirectory("rules-");
        try
        {
            var broken = (await File.ReadAllTextAsync(RulesFile)).Replace("< 0.25 * spiffe_helper", "< 0.1 * spiffe_helper", StringComparison.Ordinal);
            var rulesCopy = Path.Combine(directory.FullName, "spiffe-helper.rules.yaml");
            await File.WriteAllTextAsync(rulesCopy, broken);
            var testsCopy = Path.Combine(directory.FullName, "tests.yaml");
            await File.WriteAllTextAsync(testsCopy, (await File.ReadAllTextAsync(TestsFile)).Replace("../../examples/prometheus/spiffe-helper.rules.yaml", rulesCopy, StringComparison.Ordinal));

            var result = await ProcessRunner.RunAsync("promtool", ["test", "rules", testsCopy], Timeout);

            Assert.NotEqual(0, result.ExitCode);
            Assert.Contains("SpiffeHelperSvidExpiringSoon", result.StandardError + result.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
