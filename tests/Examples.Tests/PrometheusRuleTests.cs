namespace Examples.Tests;

/// <summary>The Prometheus Operator objects agree with the alert rules promtool tests and with each other.</summary>
public sealed class PrometheusRuleTests
{
    [Fact]
    public async Task PrometheusRule_Groups_AreExactlyTheRulesPromtoolTests()
    {
        var rule = await Manifest.SingleAsync("71-prometheusrule.yaml", "PrometheusRule", "spiffe-helper");
        var tested = Assert.Single(await ManifestValidator.ReadDocumentsAsync(Path.Combine("..", "prometheus", "spiffe-helper.rules.yaml")));

        Assert.Equal(Manifest.Get(tested, "groups").GetRawText(), Manifest.Get(rule, "spec", "groups").GetRawText());
    }

    [Fact]
    public async Task PodMonitor_JobLabel_IsTheJobTheAbsentAlertWatches()
    {
        var monitor = await Manifest.SingleAsync("70-podmonitor.yaml", "PodMonitor", "spiffe-helper");
        var rule = await Manifest.SingleAsync("71-prometheusrule.yaml", "PrometheusRule", "spiffe-helper");
        var absent = Manifest.Items(Manifest.Items(rule, "spec", "groups").Single(), "rules")
            .Single(r => Manifest.Text(r, "alert") == "SpiffeHelperAbsent");

        var relabel = Manifest.Items(Manifest.Items(monitor, "spec", "podMetricsEndpoints").Single(), "relabelings")
            .Single(r => Manifest.Text(r, "targetLabel") == "job");

        Assert.Contains($"job=\"{Manifest.Text(relabel, "replacement")}\"", Manifest.Text(absent, "expr"), StringComparison.Ordinal);
        Assert.Equal(Manifest.Text(monitor, "metadata", "namespace"), Manifest.Text(rule, "metadata", "namespace"));
    }
}
