using MiniSpire.Entries;
using MiniSpire.Server.Entries;

namespace MiniSpire.Tests.Server;

public sealed class EntryAuthorizerTests
{
    private const string Server = "spiffe://example.org/spire/server";
    private const string AgentA = "spiffe://example.org/spire/agent/join_token/a";
    private const string AgentB = "spiffe://example.org/spire/agent/join_token/b";
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static RegistrationEntry Entry(string id, string parent, string spiffe, params string[] selectors) => new()
    {
        Id = id,
        ParentId = parent,
        SpiffeId = spiffe,
        Selectors = selectors.Select(s => Selector.TryParse(s, out var sel, out _) ? sel : throw new ArgumentException(s)).ToList(),
    };

    private static readonly RegistrationEntry[] All =
    [
        Entry("1-alias-a", AgentA, "spiffe://example.org/host-a", "spiffe_id:" + AgentA),
        Entry("2-web", "spiffe://example.org/host-a", "spiffe://example.org/web", "unix:uid:1000"),
        Entry("3-web-child", "spiffe://example.org/web", "spiffe://example.org/web/child", "unix:uid:1001"),
        Entry("4-direct-b", AgentB, "spiffe://example.org/db", "unix:uid:2000"),
        Entry("5-cluster-alias", Server, "spiffe://example.org/cluster", "k8s_psat:cluster:prod"),
        Entry("6-cluster-workload", "spiffe://example.org/cluster", "spiffe://example.org/api", "k8s:ns:api"),
        Entry("7-unrelated", "spiffe://example.org/elsewhere", "spiffe://example.org/x", "unix:uid:1"),
    ];

    [Fact]
    public void AuthorizedEntries_JoinTokenAgent_GetsItsChildrenAndDescendantsOnly()
    {
        var ids = EntryAuthorizer.AuthorizedEntries(All, AgentA, [], Server, Now).Select(e => e.Id);

        Assert.Equal(["1-alias-a", "2-web", "3-web-child"], ids);
    }

    [Fact]
    public void AuthorizedEntries_OtherAgent_DoesNotSeeTheFirstAgentsEntries()
    {
        var ids = EntryAuthorizer.AuthorizedEntries(All, AgentB, [], Server, Now).Select(e => e.Id);

        Assert.Equal(["4-direct-b"], ids);
    }

    [Fact]
    public void AuthorizedEntries_AgentWithMatchingNodeSelectors_GetsNodeAliasAndItsDescendants()
    {
        var ids = EntryAuthorizer.AuthorizedEntries(All, AgentB, [new Selector("k8s_psat", "cluster:prod"), new Selector("k8s_psat", "other:x")], Server, Now)
            .Select(e => e.Id);

        Assert.Equal(["4-direct-b", "5-cluster-alias", "6-cluster-workload"], ids);
    }

    [Fact]
    public void AuthorizedEntries_ExpiredEntryAndCycle_ExpiredLeftOutAndNoLoop()
    {
        RegistrationEntry[] entries =
        [
            Entry("a", AgentA, "spiffe://example.org/loop1", "unix:uid:1"),
            Entry("b", "spiffe://example.org/loop1", "spiffe://example.org/loop2", "unix:uid:2"),
            Entry("c", "spiffe://example.org/loop2", "spiffe://example.org/loop1", "unix:uid:3"),
            Entry("d", AgentA, "spiffe://example.org/old", "unix:uid:4") with { ExpiresAt = Now.AddSeconds(-1).ToUnixTimeSeconds() },
        ];

        var ids = EntryAuthorizer.AuthorizedEntries(entries, AgentA, [], Server, Now).Select(e => e.Id);

        Assert.Equal(["a", "b", "c"], ids);
    }
}
