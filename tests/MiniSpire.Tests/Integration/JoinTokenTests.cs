using Google.Protobuf;
using Grpc.Core;
using MiniSpire.Proto;
using MiniSpire.Tests.Support;

namespace MiniSpire.Tests.Integration;

public sealed class JoinTokenTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task AttestAgent_TokenUsedTwice_SecondAttemptRefused()
    {
        var token = await _server.GenerateTokenAsync();

        using var agent = await _server.AttestAgentAsync(token);
        var error = await Assert.ThrowsAsync<RpcException>(() => _server.AttestAgentAsync(token));

        Assert.Equal($"spiffe://example.org/spire/agent/join_token/{token}", agent.SpiffeId);
        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Contains("does not exist or has already been used", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttestAgent_SameTokenConcurrently_ExactlyOneAgentAttests()
    {
        var token = await _server.GenerateTokenAsync();

        var attempts = Enumerable.Range(0, 6).Select(async _ =>
        {
            try
            {
                using var agent = await _server.AttestAgentAsync(token);
                return StatusCode.OK;
            }
            catch (RpcException e)
            {
                return e.StatusCode;
            }
        }).ToList();
        var outcomes = await Task.WhenAll(attempts).Within();

        Assert.Single(outcomes, StatusCode.OK);
        Assert.Equal(5, outcomes.Count(s => s == StatusCode.PermissionDenied));
        var shown = await _server.CliAsync("agent", "show", "-spiffeID", $"spiffe://example.org/spire/agent/join_token/{token}");
        Assert.Contains("Attestation type  : join_token", shown.Stdout, StringComparison.Ordinal);
        Assert.StartsWith("Found 1 attested agent:", (await _server.CliAsync("agent", "list")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttestAgent_ExpiredToken_Refused()
    {
        var token = await _server.GenerateTokenAsync("-ttl", "1");
        await Task.Delay(TimeSpan.FromSeconds(2.1));

        var error = await Assert.ThrowsAsync<RpcException>(() => _server.AttestAgentAsync(token));

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Contains("expired", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttestAgent_UnknownTokenOrAttestor_Refused()
    {
        var unknown = await Assert.ThrowsAsync<RpcException>(() => _server.AttestAgentAsync(Guid.NewGuid().ToString()));
        var (channel, client) = await _server.AgentClientAsync();
        using var _ = channel;
        var wrongType = await Assert.ThrowsAsync<RpcException>(() => client.AttestAgentAsync(new AttestAgentRequest
        {
            Attestation = new AttestationData { Type = "aws_iid", Payload = ByteString.CopyFromUtf8("x") },
            Csr = TestServer.NewCsr().Csr,
        }).ResponseAsync.Within());

        Assert.Equal(StatusCode.PermissionDenied, unknown.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, wrongType.StatusCode);
        Assert.Contains("unsupported node attestor", wrongType.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AttestAgent_BadToken_TheCaSignsNothing()
    {
        var port = TestServer.FreePort();
        await using var server = await TestServer.StartAsync(o => o with { Prometheus = new MiniSpire.Telemetry.PrometheusOptions("127.0.0.1", port) });
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var (channel, client) = await server.AgentClientAsync();
        using var _ = channel;
        var expired = await server.GenerateTokenAsync("-ttl", "1");
        var spent = await server.GenerateTokenAsync();
        using (await server.AttestAgentAsync(spent))
        {
        }

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var before = await X509SignedAsync(http);
        foreach (var token in new[] { Guid.NewGuid().ToString(), expired, spent })
        {
            var (key, csr) = TestServer.NewCsr();
            using var __ = key;
            var error = await Assert.ThrowsAsync<RpcException>(() => client.AttestAgentAsync(new AttestAgentRequest
            {
                Attestation = new AttestationData { Type = "join_token", Payload = ByteString.CopyFromUtf8(token) },
                Csr = csr,
            }).ResponseAsync.Within());
            Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        }

        var afterRefusals = await X509SignedAsync(http);
        using (await server.AttestAgentAsync())
        {
        }

        // Nothing signed for the three refused callers; the counter does move for a good token.
        Assert.Equal(before, afterRefusals);
        Assert.Equal(before + 1, await X509SignedAsync(http));
    }

    private static async Task<double> X509SignedAsync(HttpClient http)
    {
        var text = await http.GetStringAsync("/metrics").Within();
        var line = text.Split('\n').Single(l => l.StartsWith("minispire_server_svids_signed_total{svid_type=\"x509\"}", StringComparison.Ordinal));
        return double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task AttestAgent_GarbageCsr_InvalidArgumentAndTheTokenIsNotSpent()
    {
        var token = await _server.GenerateTokenAsync();
        var (channel, client) = await _server.AgentClientAsync();
        using var _ = channel;

        var error = await Assert.ThrowsAsync<RpcException>(() => client.AttestAgentAsync(new AttestAgentRequest
        {
            Attestation = new AttestationData { Type = "join_token", Payload = ByteString.CopyFromUtf8(token) },
            Csr = ByteString.CopyFromUtf8("not a CSR"),
        }).ResponseAsync.Within());
        using var agent = await _server.AttestAgentAsync(token);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("invalid CSR", error.Status.Detail, StringComparison.Ordinal);
        Assert.EndsWith(token, agent.SpiffeId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TokenGenerate_WithSpiffeId_CreatesNodeAliasThatWorkloadEntriesCanUseAsParent()
    {
        var token = await _server.GenerateTokenAsync("-spiffeID", "spiffe://example.org/host");
        var agentId = $"spiffe://example.org/spire/agent/join_token/{token}";

        var alias = await _server.CliAsync("entry", "show", "-spiffeID", "spiffe://example.org/host");
        var workload = await _server.CreateEntryAsync("spiffe://example.org/host", "spiffe://example.org/web", "-selector", "unix:uid:1000");
        using var agent = await _server.AttestAgentAsync(token);
        var (channel, client) = await _server.AgentClientAsync(agent);
        using var _ = channel;
        var synced = await client.SyncEntriesAsync(new SyncEntriesRequest()).ResponseAsync.Within();

        Assert.Contains($"Parent ID        : {agentId}", alias.Stdout, StringComparison.Ordinal);
        Assert.Contains($"Selector         : spiffe_id:{agentId}", alias.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, synced.Entries.Count);
        Assert.Contains(synced.Entries, e => e.Id == workload);
        Assert.Contains(synced.Entries, e => e.SpiffeId == "spiffe://example.org/host");
    }

    [Fact]
    public async Task TokenGenerate_BadInput_RefusedAndNothingStored()
    {
        var foreign = await _server.CliAsync("token", "generate", "-spiffeID", "spiffe://other.org/host");
        var zeroTtl = await _server.CliAsync("token", "generate", "-ttl", "0");

        Assert.Equal(1, foreign.ExitCode);
        Assert.Contains("spiffe_id:", foreign.Stderr, StringComparison.Ordinal);
        Assert.Equal(MiniSpire.Cli.ExitCodes.UsageOrConfig, zeroTtl.ExitCode);
        Assert.Contains("-ttl", zeroTtl.Stderr, StringComparison.Ordinal);
        Assert.StartsWith("Found 0 entries", (await _server.CliAsync("entry", "show")).Stdout, StringComparison.Ordinal);
    }
}
