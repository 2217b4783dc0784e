using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Spiffe.Jwt;
using Spiffe.Testing;

namespace Spiffe.Tests;

public sealed class JwtTests : IDisposable
{
    private const string Subject = "spiffe://example.org/workload";
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private readonly TestJwtAuthority _authority;

    public JwtTests() => _authority = new TestJwtAuthority("example.org", "key-1", _time);

    public void Dispose() => _authority.Dispose();

    private JwtBundleSet Bundles => new([_authority.Bundle]);

    [Fact]
    public void Parse_ValidToken_ReturnsClaims()
    {
        var token = _authority.Mint(Subject, ["api", "db"]);

        var svid = JwtSvid.Parse(token, Bundles, ["db"], _time);

        Assert.Equal(Subject, svid.Id.ToString());
        Assert.Equal(["api", "db"], svid.Audience);
        Assert.Equal("key-1", svid.KeyId);
        Assert.Equal("ES256", svid.Algorithm);
        Assert.Equal(_time.GetUtcNow().AddMinutes(5).ToUnixTimeSeconds(), svid.Expiry.ToUnixTimeSeconds());
        Assert.NotNull(svid.IssuedAt);
        Assert.Equal(token, svid.Token);
        Assert.Contains("\"sub\"", svid.ClaimsJson, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("HS256", "is not allowed")]
    [InlineData("none", "is not allowed")]
    [InlineData("ES256K", "is not allowed")]
    public void Parse_DisallowedAlgorithm_IsRejected(string alg, string reason)
    {
        var token = _authority.Mint(Subject, ["api"], new TestJwtOptions { Algorithm = alg });

        AssertRejected(token, ["api"], reason);
    }

    [Fact]
    public void Parse_AllowedAlgorithmWithWrongKeyType_IsRejected()
    {
        var token = _authority.Mint(Subject, ["api"], new TestJwtOptions { Algorithm = "RS256" });

        AssertRejected(token, ["api"], "needs an RSA key");
    }

    [Fact]
    public void Parse_NoKeyId_IsRejected() =>
        AssertRejected(_authority.Mint(Subject, ["api"], new TestJwtOptions { KeyId = null }), ["api"], "has no \"kid\"");

    [Fact]
    public void Parse_UnknownKeyId_IsRejected() =>
        AssertRejected(_authority.Mint(Subject, ["api"], new TestJwtOptions { KeyId = "rotated-away" }), ["api"], "no key with ID \"rotated-away\"");

    [Fact]
    public void Parse_Expired_IsRejected()
    {
        var token = _authority.Mint(Subject, ["api"], new TestJwtOptions { Ttl = TimeSpan.FromMinutes(1) });
        _time.Advance(TimeSpan.FromMinutes(1) + JwtSvid.Leeway + TimeSpan.FromSeconds(1));

        AssertRejected(token, ["api"], "expired at");
    }

    [Fact]
    public void Parse_ExpiredWithinLeeway_IsAccepted()
    {
        var token = _authority.Mint(Subject, ["api"], new TestJwtOptions { Ttl = TimeSpan.FromMinutes(1) });
        _time.Advance(TimeSpan.FromMinutes(1) + JwtSvid.Leeway - TimeSpan.FromSeconds(1));

        Assert.Equal(Subject, JwtSvid.Parse(token, Bundles, ["api"], _time).Id.ToString());
    }

    [Fact]
    public void Parse_WrongAudience_IsRejected() =>
        AssertRejected(_authority.Mint(Subject, ["api"]), ["db"], "does not include any expected audience [db]");

    [Fact]
    public void Parse_BadSignature_IsRejected() =>
        AssertRejected(_authority.Mint(Subject, ["api"], new TestJwtOptions { TamperSignature = true }), ["api"], "signature does not verify");

    [Fact]
    public void Parse_SignedByAnotherKeyWithTheSameKid_IsRejected()
    {
        using var impostor = new TestJwtAuthority("example.org", "key-1", _time);

        AssertRejected(impostor.Mint(Subject, ["api"]), ["api"], "signature does not verify");
    }

    [Fact]
    public void Parse_SubjectOfAnotherTrustDomain_IsRejected() =>
        AssertRejected(_authority.Mint("spiffe://other.org/x", ["api"]), ["api"], "no JWT bundle for trust domain \"other.org\"");

    [Fact]
    public void Parse_SubjectNotASpiffeId_IsRejected() =>
        AssertRejected(_authority.Mint("web", ["api"]), ["api"], "is not a SPIFFE ID");

    [Fact]
    public void Parse_BadType_IsRejected() =>
        AssertRejected(_authority.Mint(Subject, ["api"], new TestJwtOptions { Type = "at+jwt" }), ["api"], "\"typ\"");

    [Theory]
    [InlineData("", "empty")]
    [InlineData("a.b", "has 2 parts")]
    [InlineData("a.b.c.d.e", "has 5 parts")]
    [InlineData("!!!.e30.c2ln", "header is not base64url-encoded JSON")]
    public void Parse_Malformed_IsRejected(string token, string reason) => AssertRejected(token, ["api"], reason);

    [Fact]
    public void Parse_ErrorMessages_NeverContainTheToken()
    {
        var token = _authority.Mint(Subject, ["api"], new TestJwtOptions { TamperSignature = true });

        var error = Assert.Throws<JwtSvidException>(() => JwtSvid.Parse(token, Bundles, ["api"], _time));

        Assert.DoesNotContain(token.Split('.')[2], error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(token, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ParseInsecure_TamperedSignature_StillChecksClaims()
    {
        var token = _authority.Mint(Subject, ["api"], new TestJwtOptions { TamperSignature = true });

        Assert.Equal(Subject, JwtSvid.ParseInsecure(token, ["api"], _time).Id.ToString());
        Assert.Throws<JwtSvidException>(() => JwtSvid.ParseInsecure(token, ["other"], _time));
    }

    [Fact]
    public void JwtBundle_JwksRoundTrip_KeepsEcAndRsaKeys()
    {
        using var rsa = RSA.Create(2048);
        using var ec384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var bundle = new JwtBundle(TrustDomain.Parse("example.org"),
            [JwtAuthority.FromKey("ec", ECDsa.Create(ECCurve.NamedCurves.nistP256)), JwtAuthority.FromKey("rsa", rsa), JwtAuthority.FromKey("ec384", ec384)]);

        var again = JwtBundle.Parse(bundle.TrustDomain, bundle.ToJwks());

        Assert.Equal(["ec", "ec384", "rsa"], again.Authorities.Select(a => a.KeyId));
        Assert.Equal(["EC", "EC", "RSA"], again.Authorities.Select(a => a.KeyType));
        Assert.Equal(bundle.ToJwks(), again.ToJwks());
        var json = Encoding.UTF8.GetString(again.ToJwks());
        Assert.Contains("\"crv\":\"P-384\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void JwtBundle_SpiffeBundleWithX509Keys_SkipsThem()
    {
        var jwks = """{"keys":[{"use":"x509-svid","kty":"EC","crv":"P-256","x5c":["AAAA"]}],"spiffe_sequence":1}""";

        var bundle = JwtBundle.Parse(TrustDomain.Parse("example.org"), Encoding.UTF8.GetBytes(jwks));

        Assert.Equal(0, bundle.Count);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("""{"nokeys":[]}""", "needs a \"keys\" array")]
    [InlineData("""{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}""", "key 1 of the JWT bundle of \"example.org\" has no \"kid\"")]
    [InlineData("""{"keys":[{"kid":"a","kty":"oct","k":"AA"}]}""", "unsupported key type \"oct\"")]
    [InlineData("""{"keys":[{"kid":"a","kty":"EC","crv":"P-192","x":"AA","y":"AA"}]}""", "unsupported curve")]
    [InlineData("""{"keys":[{"kid":"a","kty":"EC","crv":"P-256","y":"AA"}]}""", "has no \"x\"")]
    public void JwtBundle_BadJwks_IsRejectedNamingTheProblem(string jwks, string reason)
    {
        var error = Assert.Throws<JwtSvidException>(() => JwtBundle.Parse(TrustDomain.Parse("example.org"), Encoding.UTF8.GetBytes(jwks)));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JwtBundle_DuplicateKeyId_IsRejected()
    {
        using var a = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var error = Assert.Throws<JwtSvidException>(() =>
            new JwtBundle(TrustDomain.Parse("example.org"), [JwtAuthority.FromKey("k", a), JwtAuthority.FromKey("k", a)]));

        Assert.Contains("key ID \"k\" twice", error.Message, StringComparison.Ordinal);
    }

    private void AssertRejected(string token, string[] audience, string reason)
    {
        var error = Assert.Throws<JwtSvidException>(() => JwtSvid.Parse(token, Bundles, audience, _time));
        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }
}
