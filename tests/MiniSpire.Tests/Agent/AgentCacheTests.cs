using MiniSpire.Agent.Cache;
using MiniSpire.Entries;
using Spiffe;

namespace MiniSpire.Tests.Agent;

public sealed class AgentCacheTests
{
    private static readonly TrustDomain Td = TrustDomain.Parse("example.org");
    private static readonly TrustDomain Partner = TrustDomain.Parse("partner.org");

    [Fact]
    public void SetEntries_SameContentAgain_NoNewVersionAndNoStreamWoken()
    {
        var cache = new AgentCache();
        cache.SetEntries([Entry("a", revision: 1), Entry("b", revision: 1)]);
        var version = cache.Current.Version;
        var woken = cache.WaitForChangeAsync(version, CancellationToken.None);

        // A sync rebuilds every entry from the wire: equal content in new objects, new lists.
        cache.SetEntries([Entry("b", revision: 1), Entry("a", revision: 1)]);

        Assert.Equal(version, cache.Current.Version);
        Assert.False(woken.IsCompleted);
    }

    [Theory]
    [InlineData("revision")]
    [InlineData("selector")]
    [InlineData("federates_with")]
    [InlineData("hint")]
    [InlineData("removed")]
    [InlineData("added")]
    public void SetEntries_AnyFieldChanged_NewVersionWakesStreams(string change)
    {
        var cache = new AgentCache();
        cache.SetEntries([Entry("a", revision: 1), Entry("b", revision: 1)]);
        var version = cache.Current.Version;
        var woken = cache.WaitForChangeAsync(version, CancellationToken.None);

        CachedEntry[] next = change switch
        {
            "revision" => [Entry("a", revision: 2), Entry("b", revision: 1)],
            "selector" => [Entry("a", revision: 1, uid: "1001"), Entry("b", revision: 1)],
            "federates_with" => [Entry("a", revision: 1, federates: [Partner]), Entry("b", revision: 1)],
            "hint" => [Entry("a", revision: 1, hint: "internal"), Entry("b", revision: 1)],
            "removed" => [Entry("a", revision: 1)],
            _ => [Entry("a", revision: 1), Entry("b", revision: 1), Entry("c", revision: 1)],
        };
        cache.SetEntries(next);

        Assert.Equal(version + 1, cache.Current.Version);
        Assert.True(woken.IsCompletedSuccessfully);
    }

    [Fact]
    public void SetBundles_SameContentAgain_NoNewVersion()
    {
        var cache = new AgentCache();
        cache.SetBundles(Bundle(Td, 1), [Bundle(Partner, 2)]);
        var version = cache.Current.Version;

        cache.SetBundles(Bundle(Td, 1), [Bundle(Partner, 2)]);

        Assert.Equal(version, cache.Current.Version);
    }

    [Theory]
    [InlineData("x509")]
    [InlineData("jwks")]
    [InlineData("federated")]
    [InlineData("federated removed")]
    public void SetBundles_ContentChanged_NewVersion(string change)
    {
        var cache = new AgentCache();
        cache.SetBundles(Bundle(Td, 1), [Bundle(Partner, 2)]);
        var version = cache.Current.Version;

        switch (change)
        {
            case "x509":
                cache.SetBundles(Bundle(Td, 1, x509Last: 0x42), [Bundle(Partner, 2)]);
                break;
            case "jwks":
                cache.SetBundles(Bundle(Td, 3), [Bundle(Partner, 2)]);
                break;
            case "federated":
                cache.SetBundles(Bundle(Td, 1), [Bundle(Partner, 4)]);
                break;
            default:
                cache.SetBundles(Bundle(Td, 1), []);
                break;
        }

        Assert.Equal(version + 1, cache.Current.Version);
    }

    private static CachedEntry Entry(string id, long revision, string uid = "1000", IReadOnlyList<TrustDomain>? federates = null, string hint = "") =>
        new(id, SpiffeId.Parse($"spiffe://example.org/{id}"), [new Selector("unix", "uid:" + uid)], federates?.ToList() ?? [], hint, revision);

    private static CachedBundle Bundle(TrustDomain trustDomain, byte jwks, byte x509Last = 0x01) =>
        new(trustDomain, [[0x30, 0x03, 0x02, 0x01, x509Last]], [jwks]);
}
