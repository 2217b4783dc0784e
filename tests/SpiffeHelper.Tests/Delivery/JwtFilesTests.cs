using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using Spiffe;
using Spiffe.Jwt;
using Spiffe.Testing;
using SpiffeHelper.Config;
using SpiffeHelper.Delivery;

namespace SpiffeHelper.Tests.Delivery;

public sealed class JwtFilesTests : IDisposable
{
    private static readonly JwtSvidOutput Api = new("api", ["audit"], "api.token");
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly TestJwtAuthority _authority;
    private readonly TestJwtAuthority _other;
    private readonly TestJwtAuthority _federated;

    public JwtFilesTests()
    {
        _authority = new TestJwtAuthority("example.org", "key-1", _time);
        _other = new TestJwtAuthority("example.org", "key-1", _time);
        _federated = new TestJwtAuthority("partner.test", "p-1", _time);
    }

    public void Dispose()
    {
        _authority.Dispose();
        _other.Dispose();
        _federated.Dispose();
    }

    private JwtBundleSet Bundles => new([_authority.Bundle, _federated.Bundle]);

    private JwtSvid Received(TestJwtAuthority signer, IReadOnlyList<string> audience, TestJwtOptions? options = null, string hint = "") =>
        JwtSvid.ParseInsecure(signer.Mint("spiffe://example.org/web", audience, options), audience.Take(1).ToList(), _time).WithHint(hint);

    [Fact]
    public void Validate_GoodToken_IsAccepted()
    {
        var token = Received(_authority, ["api", "audit"]);

        var validated = JwtFiles.Validate([token], string.Empty, Api, Bundles, _time);

        Assert.Equal(token.Token, validated.Token);
        Assert.Equal("spiffe://example.org/web", validated.Id.ToString());
    }

    [Fact]
    public void Validate_SignedByAKeyTheBundleDoesNotHold_IsRejectedWithoutTheToken()
    {
        var token = Received(_other, ["api", "audit"]);

        var error = Assert.Throws<JwtOutputException>(() => JwtFiles.Validate([token], string.Empty, Api, Bundles, _time));

        Assert.Contains("does not validate against the JWT bundle", error.Message, StringComparison.Ordinal);
        Assert.Contains("signature does not verify", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Token.Split('.')[2], error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_UnknownKeyId_NamesIt()
    {
        var token = Received(_authority, ["api", "audit"], new TestJwtOptions { KeyId = "rotated-away" });

        var error = Assert.Throws<JwtOutputException>(() => JwtFiles.Validate([token], string.Empty, Api, Bundles, _time));

        Assert.Contains("no key with ID \"rotated-away\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ExtraAudienceMissing_IsAnAudienceMismatch()
    {
        var token = Received(_authority, ["api"]);

        var error = Assert.Throws<JwtOutputException>(() => JwtFiles.Validate([token], string.Empty, Api, Bundles, _time));

        Assert.Contains("lacks the requested [audit]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ExpiredWithinTheLeeway_IsStillRejected()
    {
        var token = Received(_authority, ["api", "audit"], new TestJwtOptions { Ttl = TimeSpan.FromSeconds(10) });
        _time.Advance(TimeSpan.FromSeconds(15));

        var error = Assert.Throws<JwtOutputException>(() => JwtFiles.Validate([token], string.Empty, Api, Bundles, _time));

        Assert.Contains("expired", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Hint_PicksThatTokenOrSaysWhichHintsCame()
    {
        var first = Received(_authority, ["api", "audit"], hint: "a");
        var second = Received(_authority, ["api", "audit"], hint: "b");

        Assert.Equal(second.Token, JwtFiles.Validate([first, second], "b", Api, Bundles, _time).Token);
        var error = Assert.Throws<JwtOutputException>(() => JwtFiles.Validate([first, second], "c", Api, Bundles, _time));
        Assert.Contains("no JWT-SVID with hint \"c\" (hints received: \"a\", \"b\")", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BundleFile_GoFormat_MapsEachTrustDomainToTheBase64OfItsJwks()
    {
        var bytes = JwtFiles.BundleFile(Bundles, TrustDomain.Parse("example.org"), JwtBundleFormat.Go);

        using var document = JsonDocument.Parse(bytes);
        Assert.Equal(["example.org", "partner.test"], document.RootElement.EnumerateObject().Select(p => p.Name));
        var own = JwtBundle.Parse(TrustDomain.Parse("example.org"), Convert.FromBase64String(document.RootElement.GetProperty("example.org").GetString()!));
        Assert.True(own.TryGetAuthority("key-1", out _));
        var partner = JwtBundle.Parse(TrustDomain.Parse("partner.test"), Convert.FromBase64String(document.RootElement.GetProperty("partner.test").GetString()!));
        Assert.True(partner.TryGetAuthority("p-1", out _));
    }

    [Fact]
    public void BundleFile_JwksFormat_IsThePlainJwksOfTheOwnTrustDomain()
    {
        var bytes = JwtFiles.BundleFile(Bundles, TrustDomain.Parse("example.org"), JwtBundleFormat.Jwks);

        var bundle = JwtBundle.Parse(TrustDomain.Parse("example.org"), bytes);
        Assert.Equal(["key-1"], bundle.Authorities.Select(a => a.KeyId));
        Assert.DoesNotContain("p-1", Encoding.UTF8.GetString(bytes), StringComparison.Ordinal);
    }

    [Fact]
    public void CheckBundles_EmptyOrMissingOwnJwks_IsRejected()
    {
        var own = TrustDomain.Parse("example.org");
        var empty = new JwtBundleSet([new JwtBundle(own, []), _federated.Bundle]);

        Assert.Contains("has no usable key", Assert.Throws<JwtOutputException>(() => JwtFiles.CheckBundles(empty, own)).Message, StringComparison.Ordinal);
        Assert.Contains("none for the own trust domain \"example.org\"", Assert.Throws<JwtOutputException>(() => JwtFiles.CheckBundles(new JwtBundleSet([_federated.Bundle]), own)).Message, StringComparison.Ordinal);
        JwtFiles.CheckBundles(Bundles, own);
    }
}
