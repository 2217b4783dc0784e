using MiniSpire.Agent.Cache;
using MiniSpire.Entries;
using Spiffe;

namespace MiniSpire.Tests.Agent;

public sealed class AgentCacheTests
{
    private static readonly TrustDomain Td = TrustDomain.Parse("example.org");
    private static readonly TrustDomain Partner = TrustDomain.Parse("partner.org");

    [Fact]
    public void SetEntriesAndBundles_SameContentAgain_KeepsTheStateAndWakesNoStream()
    {
        // Every sync rebuilds entries and bundles from the server's answer: new objects, same content.
        var cache = new AgentCache();
        cache.SetEntries([Entry("e1", "/web", revision: 1), Entry("e2", "/db", revision: 3)]);
        cache.SetBundles(Bundle(Td, 1), [Bundle(Partner, 7)]);
        var before = cache.Current;
        var wake = cache.WaitForChangeAsync(before.Version, CancellationToken.None);

        cache.SetEntries([Entry("e2", "/db", revision: 3), Entry("e1", "/web", revision: 1)]);
        cache.SetBundles(Bundle(Td, 1), [Bundle(Partner, 7)]);

        Assert.Same(before, cache.Current);
        Assert.False(wake.IsCompleted);
    }

    [Theory]
    [InlineData("revision")]
    [InlineData("selector")]
    [InlineData("federates")]
    [InlineData("hint")]
    [InlineData("removed")]
    [InlineData("bundle")]
    [InlineData("federated bundle")]
    public void SetEntriesAndBundles_AnyChange_IsANewVersionThatWakesStreams(string change)
    {
        var cache = new AgentCache();
        cache.SetEntries([Entry("e1", "/web", revision: 1), Entry("e2", "/db", revision: 3)]);
        cache.SetBundles(Bundle(Td, 1), [Bundle(Partner, 7)]);
        var before = cache.Current;
        var wake = cache.WaitForChangeAsync(before.Version, CancellationToken.None);

        switch (change)
        {
            case "revision":
                cache.SetEntries([Entry("e1", "/web", revision: 2), Entry("e2", "/db", revision: 3)]);
                break;
            case "selector":
                cache.SetEntries([Entry("e1", "/web", revision: 1, uid: "1001"), Entry("e2", "/db", revision: 3)]);
                break;
            case "federates":
                cache.SetEntries([Entry("e1", "/web", revision: 1) with { FederatesWith = [Partner] }, Entry("e2", "/db", revision: 3)]);
                break;
            case "hint":
                cache.SetEntries([Entry("e1", "/web", revision: 1) with { Hint = "internal" }, Entry("e2", "/db", revision: 3)]);
                break;
            case "removed":
                cache.SetEntries([Entry("e1", "/web", revision: 1)]);
                break;
            case "bundle":
                cache.SetBundles(Bundle(Td, 2), [Bundle(Partner, 7)]);
                break;
            case "federated bundle":
                cache.SetBundles(Bundle(Td, 1), []);
                break;
        }

        Assert.True(cache.Current.Version > before.Version);
        Assert.True(wake.IsCompletedSuccessfully);
    }

    private static CachedEntry Entry(string id, string path, long revision, string uid = "1000") =>
        new(id, SpiffeId.Parse("spiffe://example.org" + path), [new Selector("unix", "uid:" + uid)], [], "", revision);

    private static CachedBundle Bundle(TrustDomain trustDomain, byte authority) =>
        new(trustDomain, [[0x30, authority]], """{"keys":[]}"""u8.ToArray());
}
