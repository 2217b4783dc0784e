using System.Text.Json;
using MiniSpire.Tests.Support;

namespace MiniSpire.Tests.Integration;

public sealed class EntryCliTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task EntryCreate_AllFlags_PrintsEntryThatShowFinds()
    {
        var created = await _server.CliAsync(
            "entry", "create", "-parentID", "spiffe://example.org/host", "-spiffeID", "spiffe://example.org/web",
            "-selector", "unix:uid:1000", "-selector", "unix:gid:1000", "-x509SVIDTTL", "600", "-jwtSVIDTTL", "120",
            "-dns", "web.example.org", "-federatesWith", "spiffe://other.org", "-hint", "internal", "-admin", "-downstream");

        Assert.True(created.ExitCode == 0, created.Stderr);
        Assert.Matches(@"(?m)^Entry ID\s+: [0-9a-f-]{36}$", created.Stdout);
        Assert.Contains("SPIFFE ID        : spiffe://example.org/web", created.Stdout, StringComparison.Ordinal);
        Assert.Contains("Selector         : unix:gid:1000", created.Stdout, StringComparison.Ordinal);
        Assert.Contains("X509-SVID TTL    : 600", created.Stdout, StringComparison.Ordinal);

        var shown = await _server.CliAsync("entry", "show", "-entryID", created.EntryId, "-output", "json");
        Assert.Equal(0, shown.ExitCode);
        using var json = JsonDocument.Parse(shown.Stdout);
        var entry = Assert.Single(json.RootElement.GetProperty("entries").EnumerateArray().ToList());
        Assert.Equal("spiffe://example.org/web", entry.GetProperty("spiffeId").GetString());
        Assert.Equal("spiffe://example.org/host", entry.GetProperty("parentId").GetString());
        Assert.Equal(600, entry.GetProperty("x509SvidTtl").GetInt32());
        Assert.Equal(120, entry.GetProperty("jwtSvidTtl").GetInt32());
        Assert.Equal("other.org", entry.GetProperty("federatesWith")[0].GetString());
        Assert.Equal("web.example.org", entry.GetProperty("dnsNames")[0].GetString());
        Assert.Equal("internal", entry.GetProperty("hint").GetString());
        Assert.True(entry.GetProperty("admin").GetBoolean());
        Assert.True(entry.GetProperty("downstream").GetBoolean());
    }

    [Fact]
    public async Task EntryCreate_InvalidFields_FailsNamingEachFieldAndWritesNothing()
    {
        var result = await _server.CliAsync(
            "entry", "create", "-parentID", "spiffe://other.org/host", "-spiffeID", "spiffe://example.org/spire/x",
            "-selector", "unix:uid:1", "-dns", "not valid", "-hint", new string('h', 1025), "-federatesWith", "example.org");

        Assert.Equal(1, result.ExitCode);
        foreach (var field in new[] { "parent_id", "spiffe_id", "dns_names", "hint", "federates_with" })
        {
            Assert.Contains(field + ":", result.Stderr, StringComparison.Ordinal);
        }

        var shown = await _server.CliAsync("entry", "show");
        Assert.StartsWith("Found 0 entries", shown.Stdout, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-selector", "unix", "-selector")]
    [InlineData("-selector", ":uid", "-selector")]
    [InlineData("-x509SVIDTTL", "-5", "-x509SVIDTTL")]
    [InlineData("-jwtSVIDTTL", "abc", "-jwtSVIDTTL")]
    [InlineData("-bogus", "1", "-bogus")]
    public async Task EntryCreate_BadFlag_FailsNamingTheFlag(string flag, string value, string expected)
    {
        var result = await _server.CliAsync("entry", "create", "-parentID", "spiffe://example.org/host", "-spiffeID", "spiffe://example.org/w", "-selector", "unix:uid:1", flag, value);

        Assert.Equal(MiniSpire.Cli.ExitCodes.UsageOrConfig, result.ExitCode);
        Assert.Contains(expected, result.Stderr, StringComparison.Ordinal);
        Assert.StartsWith("Found 0 entries", (await _server.CliAsync("entry", "show")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EntryCreate_MissingRequiredFlags_ListsAll()
    {
        var result = await _server.CliAsync("entry", "create", "-dns", "x.example.org");

        Assert.Equal(MiniSpire.Cli.ExitCodes.UsageOrConfig, result.ExitCode);
        Assert.Contains("-parentID: is required", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("-spiffeID: is required", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("-selector: is required", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EntryCreate_NodeFlagAndExpiry_ParentIsTheServerAndExpirySet()
    {
        var node = await _server.CliAsync("entry", "create", "-node", "-spiffeID", "spiffe://example.org/cluster", "-selector", "k8s_psat:cluster:prod", "-entryExpiry", "4102444800");
        var both = await _server.CliAsync("entry", "create", "-node", "-parentID", "spiffe://example.org/x", "-spiffeID", "spiffe://example.org/c2", "-selector", "a:b");

        Assert.True(node.ExitCode == 0, node.Stderr);
        Assert.Contains("Parent ID        : spiffe://example.org/spire/server", node.Stdout, StringComparison.Ordinal);
        Assert.Contains("Expiration time  : 2100-01-01 00:00:00 +0000 UTC", node.Stdout, StringComparison.Ordinal);
        Assert.Equal(MiniSpire.Cli.ExitCodes.UsageOrConfig, both.ExitCode);
        Assert.Contains("-parentID: cannot be used with -node", both.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EntryCreate_Duplicate_RefusedWithAlreadyExists()
    {
        await _server.CreateEntryAsync("spiffe://example.org/host", "spiffe://example.org/web", "-selector", "unix:uid:1", "-selector", "unix:gid:2");

        var again = await _server.CliAsync("entry", "create", "-parentID", "spiffe://example.org/host", "-spiffeID", "spiffe://example.org/web", "-selector", "unix:gid:2", "-selector", "unix:uid:1");

        Assert.Equal(1, again.ExitCode);
        Assert.Contains("AlreadyExists", again.Stderr, StringComparison.Ordinal);
        Assert.StartsWith("Found 1 entry", (await _server.CliAsync("entry", "show")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EntryUpdate_SpireSemantics_ReplacesTheWholeEntryAndBumpsRevision()
    {
        var id = await _server.CreateEntryAsync(
            "spiffe://example.org/host", "spiffe://example.org/web", "-selector", "unix:uid:1", "-dns", "a.example.org", "-x509SVIDTTL", "600", "-hint", "h", "-admin");

        // As spire-server entry update: -entryID, -parentID, -spiffeID and -selector given, every flag left out is reset.
        var updated = await _server.CliAsync(
            "entry", "update", "-entryID", id, "-parentID", "spiffe://example.org/host", "-spiffeID", "spiffe://example.org/web", "-selector", "unix:uid:2", "-x509SVIDTTL", "300");

        Assert.True(updated.ExitCode == 0, updated.Stderr);
        Assert.Contains("Revision         : 1", updated.Stdout, StringComparison.Ordinal);
        Assert.Contains("Selector         : unix:uid:2", updated.Stdout, StringComparison.Ordinal);
        Assert.Contains("X509-SVID TTL    : 300", updated.Stdout, StringComparison.Ordinal);
        var shown = await _server.CliAsync("entry", "show", "-entryID", id, "-output", "json");
        using var json = JsonDocument.Parse(shown.Stdout);
        var entry = Assert.Single(json.RootElement.GetProperty("entries").EnumerateArray().ToList());
        Assert.Equal("unix", Assert.Single(entry.GetProperty("selectors").EnumerateArray().ToList()).GetProperty("type").GetString());
        Assert.Empty(entry.GetProperty("dnsNames").EnumerateArray());
        Assert.Equal(string.Empty, entry.GetProperty("hint").GetString());
        Assert.False(entry.GetProperty("admin").GetBoolean());
        Assert.Equal("1", entry.GetProperty("revisionNumber").GetString());
    }

    [Fact]
    public async Task EntryUpdate_PartialFlags_RefusedNamingEachRequiredFlagAndEntryUnchanged()
    {
        var id = await _server.CreateEntryAsync("spiffe://example.org/host", "spiffe://example.org/web", "-selector", "unix:uid:1");

        var partial = await _server.CliAsync("entry", "update", "-entryID", id, "-selector", "unix:uid:2");
        var noId = await _server.CliAsync("entry", "update", "-parentID", "spiffe://example.org/host", "-spiffeID", "spiffe://example.org/web", "-selector", "unix:uid:2");
        var invalid = await _server.CliAsync("entry", "update", "-entryID", id, "-parentID", "spiffe://example.org/host", "-spiffeID", "spiffe://other.org/web", "-selector", "unix:uid:1");
        var missing = await _server.CliAsync("entry", "update", "-entryID", "no-such-entry", "-parentID", "spiffe://example.org/host", "-spiffeID", "spiffe://example.org/web", "-selector", "unix:uid:1");

        Assert.Equal(MiniSpire.Cli.ExitCodes.UsageOrConfig, partial.ExitCode);
        Assert.Contains("-parentID: is required", partial.Stderr, StringComparison.Ordinal);
        Assert.Contains("-spiffeID: is required", partial.Stderr, StringComparison.Ordinal);
        Assert.Equal(MiniSpire.Cli.ExitCodes.UsageOrConfig, noId.ExitCode);
        Assert.Contains("-entryID: is required", noId.Stderr, StringComparison.Ordinal);
        Assert.Equal(MiniSpire.Cli.ExitCodes.Failure, invalid.ExitCode);
        Assert.Contains("spiffe_id:", invalid.Stderr, StringComparison.Ordinal);
        Assert.Equal(MiniSpire.Cli.ExitCodes.NotFound, missing.ExitCode);
        var shown = (await _server.CliAsync("entry", "show", "-entryID", id)).Stdout;
        Assert.Contains("spiffe://example.org/web", shown, StringComparison.Ordinal);
        Assert.Contains("Selector         : unix:uid:1", shown, StringComparison.Ordinal);
        Assert.Contains("Revision         : 0", shown, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EntryDelete_ExistingEntry_GoneAndSecondDeleteFails()
    {
        var id = await _server.CreateEntryAsync("spiffe://example.org/host", "spiffe://example.org/web", "-selector", "unix:uid:1");

        var deleted = await _server.CliAsync("entry", "delete", "-entryID", id);
        var again = await _server.CliAsync("entry", "delete", "-entryID", id);

        Assert.Equal(0, deleted.ExitCode);
        Assert.Equal(MiniSpire.Cli.ExitCodes.NotFound, again.ExitCode);
        Assert.Contains("not found", again.Stderr, StringComparison.Ordinal);
        Assert.StartsWith("Found 0 entries", (await _server.CliAsync("entry", "show")).Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EntryShow_Filters_MatchSpiffeIdParentAndSelectors()
    {
        var web = await _server.CreateEntryAsync("spiffe://example.org/host", "spiffe://example.org/web", "-selector", "unix:uid:1", "-selector", "unix:gid:1");
        var db = await _server.CreateEntryAsync("spiffe://example.org/host2", "spiffe://example.org/db", "-selector", "unix:uid:2");

        var bySpiffe = await _server.CliAsync("entry", "show", "-spiffeID", "spiffe://example.org/db");
        var byParent = await _server.CliAsync("entry", "show", "-parentID", "spiffe://example.org/host");
        var bySelector = await _server.CliAsync("entry", "show", "-selector", "unix:gid:1");
        var all = await _server.CliAsync("entry", "show");

        Assert.Contains(db, bySpiffe.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(web, bySpiffe.Stdout, StringComparison.Ordinal);
        Assert.Contains(web, byParent.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(db, byParent.Stdout, StringComparison.Ordinal);
        Assert.Contains(web, bySelector.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(db, bySelector.Stdout, StringComparison.Ordinal);
        Assert.StartsWith("Found 2 entries", all.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Healthcheck_RunningServer_Healthy_NoServer_Unhealthy()
    {
        var healthy = await _server.CliAsync("healthcheck");
        var missing = await TestServer.RunCliAsync("/tmp/no-such-minispire/api.sock", "healthcheck");

        Assert.Equal(0, healthy.ExitCode);
        Assert.Equal("Server is healthy.", healthy.Stdout.Trim());
        Assert.Equal(MiniSpire.Cli.ExitCodes.Unreachable, missing.ExitCode);
        Assert.Contains("unhealthy", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminSocket_Directory_IsOwnerOnly()
    {
        var mode = File.GetUnixFileMode(Path.GetDirectoryName(_server.SocketPath)!);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, mode);
        Assert.Equal(0, (await _server.CliAsync("entry", "show")).ExitCode);
    }
}
