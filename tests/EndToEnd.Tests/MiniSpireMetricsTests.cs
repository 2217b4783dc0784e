using System.Globalization;
using Spiffe.Testing;
using EndToEnd.Tests.Support;

namespace EndToEnd.Tests;

/// <summary>
/// The MiniSpire server's and agent's Prometheus listeners ([*.telemetry.prometheus]) as processes
/// serve them: checked by promtool, with values that follow what the stack did.
/// </summary>
public sealed class MiniSpireMetricsTests : IAsyncLifetime
{
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private LocalMiniSpire _stack = null!;

    public async Task InitializeAsync() => _stack = await LocalMiniSpire.StartAsync(MiniSpireDll, prometheus: true);

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _stack.DisposeAsync();
    }

    [Fact]
    public async Task ServerAndAgentMetrics_PassPromtoolAndCountEntriesAgentsSvidsCallsAndAttestationFailures()
    {
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{Identity.Uid()}");
        var certs = Path.Combine(_stack.Root, "certs");
        var config = Path.Combine(_stack.Root, "helper.conf");
        await File.WriteAllTextAsync(config, $"""
            agent_address = "unix://{_stack.AgentSocket}"
            cert_dir = "{certs}"
            svid_file_name = "svid.pem"
            svid_key_file_name = "svid_key.pem"
            svid_bundle_file_name = "bundle.pem"
            daemon_mode = false
            """);
        var helper = await ProcessRunner.RunAsync(PublishedHelperBinary.Get(), ["-config", config], Timeout);
        Assert.True(helper.ExitCode == 0, helper.ToString());
        await RunAgentWithUnknownJoinTokenAsync();

        var server = await ScrapeAsync(_stack.ServerMetricsPort);
        var agent = await ScrapeAsync(_stack.AgentMetricsPort);

        await AssertPromtoolAcceptsAsync(server);
        await AssertPromtoolAcceptsAsync(agent);
        Assert.True(Processes.SampleValue(server, "minispire_server_svids_signed_total{svid_type=\"x509\"}") >= 2, server); // the agent's and the workload's
        Assert.Equal(1, Processes.SampleValue(server, "minispire_server_registration_entries"));
        Assert.Equal(1, Processes.SampleValue(server, "minispire_server_agents"));
        Assert.Equal(1, Processes.SampleValue(server, "minispire_server_node_attestation_failures_total{reason=\"unknown_token\"}"));
        Assert.Equal(0, Processes.SampleValue(server, "minispire_server_node_attestation_failures_total{reason=\"expired_token\"}"));
        Assert.Equal(1, Processes.SampleValue(agent, "minispire_agent_cache_entries"));
        Assert.Equal(1, Processes.SampleValue(agent, "minispire_agent_cache_x509_svids"));
        Assert.InRange(Processes.SampleValue(agent, "minispire_agent_sync_lag_seconds")!.Value, 0, 30);
        Assert.Contains("minispire_agent_workload_api_calls_total{rpc=\"FetchX509SVID\",code=", agent, StringComparison.Ordinal);
        Assert.DoesNotContain("dotnet_", server + agent, StringComparison.Ordinal);

        using var notMetrics = await _http.GetAsync(new Uri($"http://127.0.0.1:{_stack.ServerMetricsPort}/minispire.v1.Admin/ListEntries"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, notMetrics.StatusCode);
    }

    /// <summary>A second agent presenting a join token the server never issued: refused, and counted.</summary>
    private async Task RunAgentWithUnknownJoinTokenAsync()
    {
        var root = Path.Combine(_stack.Root, "intruder");
        Directory.CreateDirectory(root);
        var config = Path.Combine(root, "agent.toml");
        var original = await File.ReadAllTextAsync(Path.Combine(_stack.Root, "agent.toml"));
        var text = string.Join('\n', original.Split('\n')
            .Where(l => !l.Contains("telemetry", StringComparison.Ordinal) && !l.TrimStart().StartsWith("port =", StringComparison.Ordinal))
            .Select(l => l.Contains("socket_path", StringComparison.Ordinal) || l.Contains("data_dir", StringComparison.Ordinal)
                ? l.Replace(_stack.Root, root, StringComparison.Ordinal)
                : l));
        await File.WriteAllTextAsync(config, text);

        var run = await _stack.MiniSpireAsync("agent", "run", "-config", config, "-joinToken", "never-issued-token");

        Assert.NotEqual(0, run.ExitCode);
    }

    private async Task<string> ScrapeAsync(int port)
    {
        using var response = await _http.GetAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain; version=0.0.4", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        return await response.Content.ReadAsStringAsync();
    }

    private async Task AssertPromtoolAcceptsAsync(string exposition)
    {
        var file = Path.Combine(_stack.Root, "metrics-" + Guid.NewGuid().ToString("N") + ".txt");
        await File.WriteAllTextAsync(file, exposition);
        var check = await ProcessRunner.RunAsync("sh", ["-c", "promtool check metrics < \"$1\"", "sh", file], Timeout);
        Assert.True(check.ExitCode == 0, check + "\n" + exposition);
    }
}
