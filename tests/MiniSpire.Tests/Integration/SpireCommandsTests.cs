using Grpc.Core;
using MiniSpire.Cli;
using MiniSpire.Proto;
using MiniSpire.Tests.Support;

namespace MiniSpire.Tests.Integration;

/// <summary>The commands issue 19 added, against a real server on its real admin socket.</summary>
public sealed class SpireCommandsTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task EntryCount_Filters_CountsAsShowFinds()
    {
        await _server.CreateEntryAsync("spiffe://example.org/host", "spiffe://example.org/web", "-selector", "unix:uid:1");
        await _server.CreateEntryAsync("spiffe://example.org/host", "spiffe://example.org/db", "-selector", "unix:uid:2", "-selector", "unix:gid:2");

        Assert.Equal("2 registration entries", (await _server.CliAsync("entry", "count")).Stdout.Trim());
        Assert.Equal("1 registration entry", (await _server.CliAsync("entry", "count", "-selector=unix:gid:2")).Stdout.Trim());
        Assert.Equal("1 registration entry", (await _server.CliAsync("entry", "count", "-spiffeID", "spiffe://example.org/web")).Stdout.Trim());
        Assert.Equal("0 registration entries", (await _server.CliAsync("entry", "count", "-parentID", "spiffe://example.org/other")).Stdout.Trim());
    }

    [Fact]
    public async Task EntryCreate_CustomEntryId_UsedAndADuplicateRefused()
    {
        var created = await _server.CliAsync("entry", "create", "-entryID", "web-1", "-parentID", "spiffe://example.org/host", "-spiffeID", "spiffe://example.org/web", "-selector", "unix:uid:1");
        var again = await _server.CliAsync("entry", "create", "-entryID", "web-1", "-parentID", "spiffe://example.org/host", "-spiffeID", "spiffe://example.org/other", "-selector", "unix:uid:1");
        var bad = await _server.CliAsync("entry", "create", "-entryID", "web 1/..", "-parentID", "spiffe://example.org/host", "-spiffeID", "spiffe://example.org/x", "-selector", "unix:uid:1");

        Assert.True(created.ExitCode == 0, created.Stderr);
        Assert.Equal("web-1", created.EntryId);
        Assert.Equal(ExitCodes.Failure, again.ExitCode);
        Assert.Contains("AlreadyExists", again.Stderr, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.Failure, bad.ExitCode);
        Assert.Contains("id:", bad.Stderr, StringComparison.Ordinal);
        Assert.Equal("1 registration entry", (await _server.CliAsync("entry", "count")).Stdout.Trim());
    }

    [Fact]
    public async Task EntryCreate_StoreSvid_AcceptedWithAWarningThatMiniSpireHasNoSvidStore()
    {
        var created = await _server.CliAsync("entry", "create", "-parentID", "spiffe://example.org/host", "-spiffeID", "spiffe://example.org/web", "-selector", "unix:uid:1", "-storeSVID");

        Assert.True(created.ExitCode == 0, created.Stderr);
        Assert.Contains("no SVIDStore plugin", created.Stderr, StringComparison.Ordinal);
        Assert.Equal("1 registration entry", (await _server.CliAsync("entry", "count")).Stdout.Trim());
    }

    [Fact]
    public async Task EntryCreateAndUpdate_DataFileInSpireFormat_EachEntryCreatedAndARefusedOneNamed()
    {
        var dir = TestServer.NewTempDirectory();
        try
        {
            var file = Path.Combine(dir, "entries.json");
            await File.WriteAllTextAsync(file, """
                {
                    "entries": [
                        {
                            "selectors": [{"type": "unix", "value": "uid:1111"}],
                            "spiffe_id": "spiffe://example.org/Blog",
                            "parent_id": "spiffe://example.org/spire/agent/join_token/TokenBlog",
                            "x509_svid_ttl": 200,
                            "jwt_svid_ttl": 30,
                            "admin": true
                        },
                        {
                            "selectors": [{"type": "unix", "value": "uid:1111"}],
                            "spiffe_id": "spiffe://example.org/Database",
                            "parent_id": "spiffe://example.org/spire/agent/join_token/TokenDatabase",
                            "dns_names": ["db.example.org"],
                            "hint": "internal"
                        },
                        {
                            "selectors": [{"type": "unix", "value": "uid:1"}],
                            "spiffe_id": "spiffe://other.org/foreign",
                            "parent_id": "spiffe://example.org/host"
                        }
                    ]
                }
                """);

            var created = await _server.CliAsync("entry", "create", "-data", file);

            Assert.Equal(ExitCodes.Failure, created.ExitCode);
            Assert.Contains("SPIFFE ID        : spiffe://example.org/Blog", created.Stdout, StringComparison.Ordinal);
            Assert.Contains("X509-SVID TTL    : 200", created.Stdout, StringComparison.Ordinal);
            Assert.Contains("DNS name         : db.example.org", created.Stdout, StringComparison.Ordinal);
            Assert.Contains("Failed to create the following entry (code: InvalidArgument", created.Stderr, StringComparison.Ordinal);
            Assert.Contains("spiffe://other.org/foreign", created.Stderr, StringComparison.Ordinal);
            Assert.Equal("2 registration entries", (await _server.CliAsync("entry", "count")).Stdout.Trim());

            var id = (await _server.CliAsync("entry", "show", "-spiffeID", "spiffe://example.org/Blog")).EntryId;
            await File.WriteAllTextAsync(file, $$"""
                {"entries": [{"entry_id": "{{id}}", "selectors": [{"type": "unix", "value": "uid:2222"}],
                  "spiffe_id": "spiffe://example.org/Blog", "parent_id": "spiffe://example.org/host"}]}
                """);
            var updated = await _server.CliAsync("entry", "update", "-data", file);
            Assert.True(updated.ExitCode == 0, updated.Stderr);
            Assert.Contains("Selector         : unix:uid:2222", updated.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("Admin", updated.Stdout, StringComparison.Ordinal);

            await File.WriteAllTextAsync(file, """{"entries": [{"spiffe_id": 5, "bogus": true}]}""");
            var bad = await _server.CliAsync("entry", "create", "-data", file);
            Assert.Equal(ExitCodes.UsageOrConfig, bad.ExitCode);
            Assert.Contains("entries[0].spiffe_id: must be a string", bad.Stderr, StringComparison.Ordinal);
            Assert.Contains("entries[0].bogus: unknown field", bad.Stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task BundleCount_OwnBundleAndFederatedOnes()
    {
        Assert.Equal("1 bundle", (await _server.CliAsync("bundle", "count")).Stdout.Trim());
    }

    [Fact]
    public async Task AgentBan_BannedAgentRefusedListedAsBannedAndEvictLiftsIt()
    {
        using var banned = await _server.AttestAgentAsync();
        using var other = await _server.AttestAgentAsync();
        var (channel, client) = await _server.AgentClientAsync(banned);
        using var _ = channel;
        await client.SyncEntriesAsync(new SyncEntriesRequest()).ResponseAsync.Within();

        var ban = await _server.CliAsync("agent", "ban", "-spiffeID", banned.SpiffeId);
        var refused = await Assert.ThrowsAsync<RpcException>(() => client.SyncEntriesAsync(new SyncEntriesRequest()).ResponseAsync.Within());
        var missing = await _server.CliAsync("agent", "ban", "-spiffeID", "spiffe://example.org/spire/agent/join_token/nobody");

        Assert.Equal((0, "Agent banned successfully"), (ban.ExitCode, ban.Stdout.Trim()));
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Contains("is banned", refused.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.NotFound, missing.ExitCode);
        Assert.Equal("2 attested agents", (await _server.CliAsync("agent", "count")).Stdout.Trim());
        Assert.Equal("1 attested agent", (await _server.CliAsync("agent", "count", "-banned", "true")).Stdout.Trim());
        var notBanned = await _server.CliAsync("agent", "list", "-banned=false");
        Assert.Contains(other.SpiffeId, notBanned.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(banned.SpiffeId, notBanned.Stdout, StringComparison.Ordinal);

        Assert.Equal(0, (await _server.CliAsync("agent", "evict", "-spiffeID", banned.SpiffeId)).ExitCode);
        Assert.Equal("0 attested agents", (await _server.CliAsync("agent", "count", "-banned", "true")).Stdout.Trim());
    }

    [Fact]
    public async Task AgentList_Filters_AsSpire()
    {
        using var agent = await _server.AttestAgentAsync();
        var far = DateTimeOffset.UnixEpoch.AddYears(200).ToString("yyyy-MM-dd HH:mm:ss +0000", System.Globalization.CultureInfo.InvariantCulture) + " UTC";

        Assert.Equal("1 attested agent", (await _server.CliAsync("agent", "count", "-attestationType", "join_token")).Stdout.Trim());
        Assert.Equal("0 attested agents", (await _server.CliAsync("agent", "count", "-attestationType", "x509pop")).Stdout.Trim());
        Assert.Equal("1 attested agent", (await _server.CliAsync("agent", "count", "-expiresBefore", far)).Stdout.Trim());
        Assert.Equal("0 attested agents", (await _server.CliAsync("agent", "count", "-expiresBefore", "2000-01-01 00:00:00 +0000 UTC")).Stdout.Trim());
        // A join token agent has no selectors; one attested with some (as a k8s_psat agent) is written to the datastore.
        var store = MiniSpire.Server.Datastore.SqliteDataStore.Open(_server.Options.DataDir);
        await store.UpsertAgentAsync(new MiniSpire.Server.Datastore.AgentRecord
        {
            SpiffeId = "spiffe://example.org/spire/agent/k8s_psat/prod/node-1",
            AttestationType = "k8s_psat",
            SerialNumber = "01",
            ExpiresAt = DateTimeOffset.UnixEpoch.AddYears(100).ToUnixTimeSeconds(),
            Selectors = [new("k8s_psat", "cluster:prod"), new("k8s_psat", "agent_ns:spire")],
        }).Within();
        var bySelectors = await _server.CliAsync("agent", "list", "-selector", "k8s_psat:cluster:prod", "-selector", "k8s_psat:agent_ns:spire");
        Assert.Contains("spiffe://example.org/spire/agent/k8s_psat/prod/node-1", bySelectors.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(agent.SpiffeId, bySelectors.Stdout, StringComparison.Ordinal);
        Assert.StartsWith("Found 0", (await _server.CliAsync("agent", "list", "-selector", "k8s_psat:cluster:dev")).Stdout, StringComparison.Ordinal);
        var badDate = await _server.CliAsync("agent", "list", "-expiresBefore", "tomorrow");
        Assert.Equal(ExitCodes.UsageOrConfig, badDate.ExitCode);
        Assert.Contains("-expiresBefore: date is not valid", badDate.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Healthcheck_ShallowAndVerbose()
    {
        var verbose = await _server.CliAsync("healthcheck", "-verbose");
        var shallow = await _server.CliAsync("healthcheck", "-shallow");

        Assert.Equal((0, "Checking server health...\nServer is healthy."), (verbose.ExitCode, verbose.Stdout.Trim().ReplaceLineEndings("\n")));
        Assert.Equal((0, "Server is healthy."), (shallow.ExitCode, shallow.Stdout.Trim()));
    }
}
