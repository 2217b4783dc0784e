using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using MiniSpire.Server.Ca;
using Spiffe;
using Spiffe.Jwt;
using Spiffe.X509;

namespace MiniSpire.Tests.Server;

public sealed class CredentialBuilderTests
{
    private static readonly TrustDomain Td = TrustDomain.Parse("example.org");
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static X509CaAuthority NewCa(TimeSpan ttl)
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var certificate = CredentialBuilder.CreateCaCertificate(Td, key, Now, ttl, null, null);
        return new X509CaAuthority("ca", AuthorityState.Active, certificate, key, []);
    }

    [Fact]
    public void CreateCaCertificate_SelfSigned_MatchesSpireCaTemplate()
    {
        var ca = NewCa(TimeSpan.FromHours(24));
        var certificate = ca.Certificate;

        Assert.Equal("C=US, O=SPIFFE", InEncodingOrder(certificate.SubjectName));
        Assert.Equal(["spiffe://example.org"], certificate.GetUriSans());
        Assert.True(certificate.IsCertificateAuthority());
        var keyUsage = certificate.GetKeyUsage()!;
        Assert.True(keyUsage.Critical);
        Assert.Equal(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, keyUsage.KeyUsages);
        Assert.Equal(Now.AddSeconds(-10), new DateTimeOffset(certificate.NotBefore.ToUniversalTime()));
        Assert.Equal(Now.AddHours(24), new DateTimeOffset(certificate.NotAfter.ToUniversalTime()));
    }

    [Fact]
    public void CreateX509Svid_WithDnsNames_MatchesSpireLeafTemplate()
    {
        var ca = NewCa(TimeSpan.FromHours(24));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var publicKey = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256).PublicKey;

        var issued = CredentialBuilder.CreateX509Svid(ca, publicKey, SpiffeId.Parse("spiffe://example.org/web"), ["web.example.org", "www.example.org"], Now, TimeSpan.FromHours(1));
        using var leaf = X509CertificateLoader.LoadCertificate(issued.CertificateDer);

        Assert.Equal(16, leaf.SerialNumberBytes.Length);
        Assert.Equal(issued.SerialNumber, leaf.SerialNumberBytes.ToArray());
        Assert.Equal(leaf.SerialNumber.ToLowerInvariant(), issued.SerialNumberHex);
        Assert.Equal(new DateTimeOffset(leaf.NotAfter.ToUniversalTime()), issued.NotAfter);
        Assert.Equal("C=US, O=SPIRE, CN=web.example.org", InEncodingOrder(leaf.SubjectName));
        Assert.Equal(["spiffe://example.org/web"], leaf.GetUriSans());
        Assert.False(leaf.IsCertificateAuthority());
        var keyUsage = leaf.GetKeyUsage()!;
        Assert.True(keyUsage.Critical);
        Assert.Equal(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.KeyAgreement, keyUsage.KeyUsages);
        var eku = leaf.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single();
        Assert.Equal(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], eku.EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value));
        var ski = leaf.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single();
        Assert.False(ski.SubjectKeyIdentifierBytes.IsEmpty);
        var aki = leaf.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().Single();
        var caSki = ca.Certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single();
        Assert.True(aki.KeyIdentifier!.Value.Span.SequenceEqual(caSki.SubjectKeyIdentifierBytes.Span));
        Assert.Equal(Now.AddSeconds(-10), new DateTimeOffset(leaf.NotBefore.ToUniversalTime()));
        Assert.Equal(Now.AddHours(1), new DateTimeOffset(leaf.NotAfter.ToUniversalTime()));
        var dns = new X509SubjectAlternativeNameExtension(leaf.Extensions["2.5.29.17"]!.RawData).EnumerateDnsNames();
        Assert.Equal(["web.example.org", "www.example.org"], dns);

        using var svid = X509Svid.Parse(leaf.RawData, key.ExportPkcs8PrivateKey());
        svid.Verify(new X509Bundle(Td, [ca.Certificate]), Now);
    }

    [Fact]
    public void CreateX509Svid_TtlBeyondCa_CappedAtCaNotAfter()
    {
        var ca = NewCa(TimeSpan.FromMinutes(30));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var publicKey = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256).PublicKey;

        var issued = CredentialBuilder.CreateX509Svid(ca, publicKey, SpiffeId.Parse("spiffe://example.org/web"), [], Now, TimeSpan.FromHours(1));
        using var leaf = X509CertificateLoader.LoadCertificate(issued.CertificateDer);

        Assert.Equal(ca.Certificate.NotAfter, leaf.NotAfter);
        Assert.Equal(new DateTimeOffset(ca.Certificate.NotAfter.ToUniversalTime()), issued.NotAfter);
        Assert.Equal("C=US, O=SPIRE", InEncodingOrder(leaf.SubjectName));
    }

    [Fact]
    public void CreateJwtSvid_Es256WithKid_ValidatesAgainstTheJwtBundle()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var authority = new JwtKeyAuthority(CredentialBuilder.NewKeyId(), AuthorityState.Active, key, Now, Now.AddDays(1));
        var time = new FakeTimeProvider(Now.AddMinutes(1));

        var token = CredentialBuilder.CreateJwtSvid(authority, SpiffeId.Parse("spiffe://example.org/web"), ["db", "cache"], Now, Now.AddMinutes(5), "https://oidc.example.org");

        var bundles = new JwtBundleSet([new JwtBundle(Td, [JwtAuthority.FromKey(authority.KeyId, key)])]);
        var svid = JwtSvid.Parse(token, bundles, ["cache"], time);
        Assert.Equal("spiffe://example.org/web", svid.Id.ToString());
        Assert.Equal("ES256", svid.Algorithm);
        Assert.Equal(authority.KeyId, svid.KeyId);
        Assert.Equal(["db", "cache"], svid.Audience);
        Assert.Equal(Now.AddMinutes(5), svid.Expiry);
        Assert.Equal(Now, svid.IssuedAt);
        using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(token.Split('.')[0]));
        Assert.Equal("JWT", header.RootElement.GetProperty("typ").GetString());
        using var claims = JsonDocument.Parse(svid.ClaimsJson);
        Assert.Equal("https://oidc.example.org", claims.RootElement.GetProperty("iss").GetString());
        Assert.Equal(32, authority.KeyId.Length);
    }

    /// <summary>The RDNs in the order they are encoded (what openssl prints), not .NET's reversed display order.</summary>
    internal static string InEncodingOrder(X500DistinguishedName name) =>
        string.Join(", ", name.EnumerateRelativeDistinguishedNames(reversed: false).Select(rdn =>
            (rdn.GetSingleElementType().Value switch { "2.5.4.6" => "C", "2.5.4.10" => "O", "2.5.4.3" => "CN", var other => other })
            + "=" + rdn.GetSingleElementValue()));
}
