using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;
using Spiffe.Testing;
using EndToEnd.Tests.Support;

namespace EndToEnd.Tests;

/// <summary>
/// Rotation health as an operator sees it: the published AOT helper rotating short-lived SVIDs from a
/// MiniSpire server and agent, its /metrics checked by promtool and scraped by a real Prometheus server
/// (Debian's package) that evaluates the shipped alert rules.
/// </summary>
public sealed partial class PrometheusScrapeTests : IAsyncLifetime
{
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly string ShippedRules = Path.Combine(ProcessRunner.RepositoryRoot, "examples", "prometheus", "spiffe-helper.rules.yaml");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>The test's <c>for:</c> duration; the shipped 1m would only make the test slower, not truer.</summary>
    private const string TestForDuration = "5s";

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private LocalMiniSpire _stack = null!;
    private string _certs = null!;

    public async Task InitializeAsync()
    {
        _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);
        _certs = Path.Combine(_stack.Root, "certs");
        Directory.CreateDirectory(_certs);

        // 20 s TTL (30 s lifetime with MiniSpire's 10 s backdating): the rotation-stalled threshold,
        // 0.6 of the lifetime, is 18 s without a write.
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{Identity.Uid()}", "-x509SVIDTTL", "20");
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _stack.DisposeAsync();
    }

    [Fact]
    public async Task HelperMetrics_RealOutput_PassesPromtoolAndCarriesTheWholeContract()
    {
        // A real child that SIGUSR1 terminates: the second write signals it, the third restarts it
        // (cmd_restart_policy "on_renewal"), so every counter family has samples.
        var healthPort = HelperRun.FreePort();
        using var helper = Processes.StartHelper(await WriteConfigAsync(healthPort, """
            cmd = "sleep"
            cmd_args = "300"
            renew_signal = "SIGUSR1"
            """));
        try
        {
            var text = await WaitForMetricsAsync(healthPort, helper, t => Processes.SampleValue(t, "spiffe_helper_child_restarts_total") >= 1);

            var file = Path.Combine(_stack.Root, "metrics.txt");
            await File.WriteAllTextAsync(file, text);
            var check = await ProcessRunner.RunAsync("sh", ["-c", "promtool check metrics < \"$1\"", "sh", file], Timeout);
            Assert.True(check.ExitCode == 0, check + "\n" + text);

            // Every family is declared; all have samples except those a healthy X.509-only run never produces.
            string[] noSamplesYet = ["spiffe_helper_jwt_svid_expiry_timestamp_seconds", "spiffe_helper_workload_api_errors_total", "spiffe_helper_signal_undelivered"];
            foreach (var name in ContractMetricNames())
            {
                Assert.Contains($"# TYPE {name} ", text, StringComparison.Ordinal);
                if (!noSamplesYet.Contains(name))
                {
                    Assert.Matches(new Regex("^" + name + "[{ ]", RegexOptions.Multiline), text);
                }
            }

            const string Id = "{spiffe_id=\"spiffe://example.org/web\"}";
            Assert.Equal(30, Processes.SampleValue(text, "spiffe_helper_x509_svid_lifetime_seconds" + Id));
            var expiry = Processes.SampleValue(text, "spiffe_helper_x509_svid_expiry_timestamp_seconds" + Id)!.Value;
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            Assert.InRange(expiry, now - 5, now + 31);
            Assert.Equal(1, Processes.SampleValue(text, "spiffe_helper_ready"));
            Assert.True(Processes.SampleValue(text, "spiffe_helper_rotations_total") >= 3, text);
            Assert.True(Processes.SampleValue(text, "spiffe_helper_signal_deliveries_total{target=\"child\",result=\"delivered\"}") >= 1, text);
            Assert.Contains("spiffe_helper_bundle_ca_latest_expiry_timestamp_seconds{trust_domain=\"example.org\"}", text, StringComparison.Ordinal);
            Assert.Matches(new Regex("^spiffe_helper_build_info\\{version=\"[^\"]+\"\\} 1$", RegexOptions.Multiline), text);
        }
        finally
        {
            await StopAsync(helper);
        }
    }

    [Fact]
    public async Task Prometheus_AgentStopped_RotationStalledGoesPendingThenFiring_AndResolvesWhenTheAgentReturns()
    {
        var healthPort = HelperRun.FreePort();
        using var helper = Processes.StartHelper(await WriteConfigAsync(healthPort));
        var prometheusPort = HelperRun.FreePort();
        using var prometheus = await StartPrometheusAsync(prometheusPort, healthPort);
        try
        {
            // Healthy: Prometheus scrapes the helper, the rules are loaded and the alert is quiet.
            await WaitUntilAsync(async () => (await QueryAsync(prometheusPort, "spiffe_helper_x509_svid_lifetime_seconds")).Count == 1, prometheus, helper, "Prometheus to scrape the helper");
            await WaitUntilAsync(async () => await RuleHealthAsync(prometheusPort, "SpiffeHelperRotationStalled") == "ok", prometheus, helper, "the rule to be evaluated");
            Assert.Null(await AlertStateAsync(prometheusPort));

            await _stack.KillAgentAsync();
            var states = new List<string>();
            await WaitUntilAsync(
                async () =>
                {
                    if (await AlertStateAsync(prometheusPort) is { } state && (states.Count == 0 || states[^1] != state))
                    {
                        states.Add(state);
                    }

                    return states.Contains("firing");
                },
                prometheus,
                helper,
                "SpiffeHelperRotationStalled to fire");
            Assert.Equal(["pending", "firing"], states);

            await _stack.StartAgentAsync();
            await WaitUntilAsync(async () => await AlertStateAsync(prometheusPort) is null, prometheus, helper, "SpiffeHelperRotationStalled to resolve");
            var metrics = await ScrapeAsync(healthPort);
            Assert.True(Processes.SampleValue(metrics, "spiffe_helper_stream_reconnects_total{rpc=\"FetchX509SVID\"}") >= 1, metrics);
            Assert.True(Processes.SampleValue(metrics, "spiffe_helper_workload_api_errors_total{rpc=\"FetchX509SVID\",code=\"Unavailable\"}") >= 1, metrics);
        }
        finally
        {
            await StopAsync(prometheus);
            await StopAsync(helper);
        }
    }

    [Fact]
    public async Task TestRules_DifferFromTheShippedRulesOnlyInTheirForDurations()
    {
        var shipped = await File.ReadAllLinesAsync(ShippedRules);
        var derived = DeriveTestRules(string.Join('\n', shipped)).Split('\n');

        Assert.Equal(shipped.Length, derived.Length);
        var changed = shipped.Zip(derived).Where(p => p.First != p.Second).ToList();
        Assert.Equal(6, changed.Count);
        Assert.All(changed, p =>
        {
            Assert.Matches("^ +for: [0-9]+[smh]$", p.First);
            Assert.Equal(p.First[..p.First.IndexOf("for:", StringComparison.Ordinal)] + "for: " + TestForDuration, p.Second);
        });
    }

    /// <summary>
    /// The shipped rules with every <c>for:</c> shortened to <see cref="TestForDuration"/>; nothing else
    /// changes (checked by <see cref="TestRules_DifferFromTheShippedRulesOnlyInTheirForDurations"/>).
    /// </summary>
    private static string DeriveTestRules(string shipped) => ForLine().Replace(shipped, "${indent}for: " + TestForDuration);

    [GeneratedRegex("^(?<indent> +)for: [0-9]+[smh]$", RegexOptions.Multiline)]
    private static partial Regex ForLine();

    private async Task<Process> StartPrometheusAsync(int port, int healthPort)
    {
        var directory = Path.Combine(_stack.Root, "prometheus");
        Directory.CreateDirectory(directory);
        var rules = Path.Combine(directory, "spiffe-helper.rules.yaml");
        await File.WriteAllTextAsync(rules, DeriveTestRules(await File.ReadAllTextAsync(ShippedRules)));
        var config = Path.Combine(directory, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
              - {rules}
            scrape_configs:
              - job_name: spiffe-helper
                static_configs:
                  - targets: ["127.0.0.1:{healthPort}"]
            """);
        var check = await ProcessRunner.RunAsync("promtool", ["check", "config", config], Timeout);
        Assert.True(check.ExitCode == 0, check.ToString());

        var info = new ProcessStartInfo("prometheus") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in new[] { "--config.file=" + config, "--storage.tsdb.path=" + Path.Combine(directory, "data"), $"--web.listen-address=127.0.0.1:{port}" })
        {
            info.ArgumentList.Add(argument);
        }

        return Processes.StartDrained(info);
    }

    private async Task<string?> AlertStateAsync(int prometheusPort)
    {
        using var json = JsonDocument.Parse(await _http.GetStringAsync(new Uri($"http://127.0.0.1:{prometheusPort}/api/v1/alerts")));
        return json.RootElement.GetProperty("data").GetProperty("alerts").EnumerateArray()
            .Where(a => a.GetProperty("labels").GetProperty("alertname").GetString() == "SpiffeHelperRotationStalled")
            .Select(a => a.GetProperty("state").GetString())
            .FirstOrDefault();
    }

    private async Task<string?> RuleHealthAsync(int prometheusPort, string alert)
    {
        using var json = JsonDocument.Parse(await _http.GetStringAsync(new Uri($"http://127.0.0.1:{prometheusPort}/api/v1/rules?type=alert")));
        return json.RootElement.GetProperty("data").GetProperty("groups").EnumerateArray()
            .SelectMany(g => g.GetProperty("rules").EnumerateArray())
            .Where(r => r.GetProperty("name").GetString() == alert && r.TryGetProperty("lastEvaluation", out var at) && !at.GetString()!.StartsWith("0001", StringComparison.Ordinal))
            .Select(r => r.GetProperty("health").GetString())
            .FirstOrDefault();
    }

    private async Task<List<JsonElement>> QueryAsync(int prometheusPort, string query)
    {
        using var json = JsonDocument.Parse(await _http.GetStringAsync(new Uri($"http://127.0.0.1:{prometheusPort}/api/v1/query?query={Uri.EscapeDataString(query)}")));
        return json.RootElement.GetProperty("data").GetProperty("result").EnumerateArray().Select(e => e.Clone()).ToList();
    }

    private async Task<string> ScrapeAsync(int healthPort) =>
        await _http.GetStringAsync(new Uri($"http://127.0.0.1:{healthPort}/metrics"));

    private async Task<string> WaitForMetricsAsync(int healthPort, Process helper, Func<string, bool> done)
    {
        var text = string.Empty;
        await WaitUntilAsync(
            async () =>
            {
                try
                {
                    text = await ScrapeAsync(healthPort);
                }
                catch (HttpRequestException)
                {
                    return false;
                }

                return done(text);
            },
            null,
            helper,
            "the helper's metrics");
        return text;
    }

    private async Task WaitUntilAsync(Func<Task<bool>> condition, Process? prometheus, Process helper, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            Assert.False(helper.HasExited, "spiffe-helper exited");
            Assert.False(prometheus?.HasExited ?? false, "prometheus exited");
            bool met;
            try
            {
                met = await condition();
            }
            catch (HttpRequestException)
            {
                met = false;
            }

            if (met)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"waited {Timeout} for {what}\n{_stack.Output}");
            await Task.Delay(500);
        }
    }

    private async Task<string> WriteConfigAsync(int healthPort, string more = "")
    {
        var path = Path.Combine(_stack.Root, "helper.conf");
        await File.WriteAllTextAsync(path, $"""
            {more}
            agent_address = "unix://{_stack.AgentSocket}"
            cert_dir = "{_certs}"
            svid_file_name = "svid.pem"
            svid_key_file_name = "svid_key.pem"
            svid_bundle_file_name = "bundle.pem"

            [health_checks]
            listener_enabled = true
            bind_port = {healthPort}
            """);
        return path;
    }

    private static async Task StopAsync(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    /// <summary>Every metric name in the contract table of examples/prometheus/README.md.</summary>
    private static List<string> ContractMetricNames()
    {
        var names = File.ReadAllLines(Path.Combine(ProcessRunner.RepositoryRoot, "examples", "prometheus", "README.md"))
            .Where(l => l.StartsWith("| `spiffe_helper_", StringComparison.Ordinal))
            .Select(l => l.Split('`')[1])
            .ToList();
        Assert.Equal(17, names.Count);
        return names;
    }
}
