using Microsoft.Extensions.Time.Testing;
using MiniSpire.Agent.Cache;
using MiniSpire.Agent.Rotation;
using MiniSpire.Entries;
using Spiffe;

namespace MiniSpire.Tests.Agent;

public sealed class RotationTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(29, 0.0, false)]
    [InlineData(30, 0.0, true)]
    [InlineData(26, 1.0, false)]
    [InlineData(27, 1.0, true)]
    [InlineData(32, -1.0, false)]
    [InlineData(33, -1.0, true)]
    [InlineData(60, 0.0, true)]
    [InlineData(90, -1.0, true)]
    public void ShouldRotate_OneHourSvid_AtHalfLifeWithinTenPercentJitter(int minutesElapsed, double jitter, bool expected)
    {
        // A 1 h SVID rotates with 27-33 min left depending on jitter, and at once when expired.
        var rotate = RotationPolicy.ShouldRotate(Start, Start.AddHours(1), Start.AddMinutes(minutesElapsed), jitter);

        Assert.Equal(expected, rotate);
    }

    [Fact]
    public void NextJitter_StaysWithinPlusMinusOne()
    {
        var random = new Random(42);

        var values = Enumerable.Range(0, 1000).Select(_ => RotationPolicy.NextJitter(random)).ToList();

        Assert.All(values, v => Assert.InRange(v, -1, 1));
        Assert.Contains(values, v => v < -0.5);
        Assert.Contains(values, v => v > 0.5);
    }

    [Fact]
    public async Task JwtSvidCache_ReusesATokenUntilHalfLifeThenMintsAgain()
    {
        var time = new FakeTimeProvider(Start);
        var mints = 0;
        var cache = new JwtSvidCache((entry, audience, _) =>
        {
            mints++;
            var now = time.GetUtcNow();
            return Task.FromResult(new MintedJwtSvid($"token-{mints}", now, now.AddMinutes(5)));
        }, time);
        var entry = Entry("/web");

        var first = await cache.GetAsync(entry, ["b", "a"], CancellationToken.None);
        var sameSet = await cache.GetAsync(entry, ["a", "b"], CancellationToken.None);
        var otherAudience = await cache.GetAsync(entry, ["c"], CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(1));
        var stillFresh = await cache.GetAsync(entry, ["a", "b"], CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(2) + TimeSpan.FromSeconds(31));
        var renewed = await cache.GetAsync(entry, ["a", "b"], CancellationToken.None);

        Assert.Equal("token-1", first);
        Assert.Equal("token-1", sameSet);
        Assert.Equal("token-2", otherAudience);
        Assert.Equal("token-1", stillFresh);
        Assert.Equal("token-3", renewed);
    }

    [Fact]
    public async Task JwtSvidCache_FailedMint_IsNotCached()
    {
        var time = new FakeTimeProvider(Start);
        var attempts = 0;
        var cache = new JwtSvidCache((_, _, _) =>
        {
            attempts++;
            return attempts == 1
                ? Task.FromException<MintedJwtSvid>(new InvalidOperationException("server down"))
                : Task.FromResult(new MintedJwtSvid("ok", time.GetUtcNow(), time.GetUtcNow().AddMinutes(5)));
        }, time);

        await Assert.ThrowsAsync<InvalidOperationException>(() => cache.GetAsync(Entry("/a"), ["x"], CancellationToken.None));
        Assert.Equal("ok", await cache.GetAsync(Entry("/a"), ["x"], CancellationToken.None));
    }

    [Fact]
    public async Task JwtSvidCache_Prune_DropsExpiredTokens()
    {
        var time = new FakeTimeProvider(Start);
        var cache = new JwtSvidCache((_, _, _) => Task.FromResult(new MintedJwtSvid("t", time.GetUtcNow(), time.GetUtcNow().AddMinutes(5))), time);
        await cache.GetAsync(Entry("/a"), ["x"], CancellationToken.None);

        cache.Prune();
        Assert.Equal(1, cache.Count);
        time.Advance(TimeSpan.FromMinutes(6));
        cache.Prune();

        Assert.Equal(0, cache.Count);
    }

    private static CachedEntry Entry(string path) =>
        new("e" + path, SpiffeId.Parse("spiffe://example.org" + path), [new Selector("unix", "uid:0")], [], string.Empty, 1);
}
