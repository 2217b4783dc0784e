using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Spiffe.Testing;
using Spiffe.X509;

namespace Spiffe.Tests;

public sealed class X509SvidTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org");

    public void Dispose() => _ca.Dispose();

    [Fact]
    public void Parse_ValidSvid_ExposesIdChainKeyAndHint()
    {
        var issued = _ca.Issue("/workload");

        using var svid = X509Svid.Parse(issued.ChainDer, issued.KeyPkcs8, "internal");

        Assert.Equal("spiffe://example.org/workload", svid.Id.ToString());
        Assert.Single(svid.Certificates);
        Assert.Equal(issued.Leaf.RawData, svid.Leaf.RawData);
        Assert.IsAssignableFrom<ECDsa>(svid.PrivateKey);
        Assert.Equal("internal", svid.Hint);
        Assert.Equal(issued.Leaf.NotAfter.ToUniversalTime(), svid.NotAfter.UtcDateTime);
        svid.Verify(_ca.Bundle, DateTimeOffset.UtcNow);
    }

    [Fact]
    public void Parse_RsaKey_IsAccepted()
    {
        var issued = _ca.Issue("/rsa", new TestSvidOptions { Rsa = true });

        using var svid = X509Svid.Parse(issued.ChainDer, issued.KeyPkcs8);

        Assert.IsAssignableFrom<RSA>(svid.PrivateKey);
    }

    [Fact]
    public void Parse_WithIntermediate_KeepsLeafFirstAndVerifiesThroughIt()
    {
        using var ca = TestCertificateAuthority.Create("example.org", withIntermediate: true);
        var issued = ca.Issue("/behind-intermediate");

        using var svid = X509Svid.Parse(issued.ChainDer, issued.KeyPkcs8);

        Assert.Equal(2, svid.Certificates.Count);
        Assert.Equal(ca.Intermediate!.RawData, svid.Intermediates.Single().RawData);
        svid.Verify(ca.Bundle, DateTimeOffset.UtcNow);
        Assert.Equal(2, Pem.DecodeCertificates(svid.ExportCertificatesPem()).Count);
        Assert.Single(Pem.DecodeCertificates(svid.ExportCertificatesPem(includeIntermediates: false)));
    }

    public static TheoryData<string, TestSvidOptions, string> BrokenLeaves => new()
    {
        { "/two", new TestSvidOptions { ExtraUris = ["spiffe://example.org/other"] }, "has 2 URI SANs" },
        { "/none", new TestSvidOptions { NoUriSan = true }, "has no URI SAN" },
        { "/ca", new TestSvidOptions { LeafIsCa = true }, "is a CA" },
        { "/no-ku", new TestSvidOptions { OmitKeyUsage = true }, "no key usage extension" },
        { "/soft-ku", new TestSvidOptions { NonCriticalKeyUsage = true }, "not critical" },
        { "/no-ds", new TestSvidOptions { KeyUsage = X509KeyUsageFlags.KeyEncipherment }, "lacks digitalSignature" },
        { "/certsign", new TestSvidOptions { KeyUsage = X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign }, "keyCertSign" },
        { "/crlsign", new TestSvidOptions { KeyUsage = X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.CrlSign }, "cRLSign" },
        { "/wrong-key", new TestSvidOptions { WrongKey = true }, "does not match the leaf" },
        { "spiffe://example.org", new TestSvidOptions(), "has no path" },
        { "/x", new TestSvidOptions { NoUriSan = true, ExtraUris = [] }, "no URI SAN" },
    };

    [Theory]
    [MemberData(nameof(BrokenLeaves))]
    public void Parse_BrokenLeaf_IsRejectedNamingTheRule(string id, TestSvidOptions options, string rule)
    {
        var issued = _ca.Issue(id, options);

        var error = Assert.Throws<X509SvidException>(() => X509Svid.Parse(issued.ChainDer, issued.KeyPkcs8));

        Assert.Contains(rule, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UriSanThatIsNotASpiffeId_IsRejected()
    {
        var issued = _ca.Issue("https://example.org/web");

        var error = Assert.Throws<X509SvidException>(() => X509Svid.Parse(issued.ChainDer, issued.KeyPkcs8));

        Assert.Contains("is not a SPIFFE ID", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_IntermediateThatIsNotACa_IsRejected()
    {
        var leaf = _ca.Issue("/leaf");
        var notCa = _ca.Issue("/pretend-intermediate");
        var chain = leaf.ChainDer.Concat(notCa.ChainDer).ToArray();

        var error = Assert.Throws<X509SvidException>(() => X509Svid.Parse(chain, leaf.KeyPkcs8));

        Assert.Contains("intermediate certificate 1 is not a CA", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[0], "empty")]
    [InlineData(new byte[] { 0x30, 0x82, 0x01 }, "not valid DER")]
    [InlineData(new byte[] { 0x04, 0x01, 0x00 }, "not a DER SEQUENCE")]
    public void Parse_GarbageChain_IsRejected(byte[] chain, string reason)
    {
        var key = _ca.Issue("/x").KeyPkcs8;

        var error = Assert.Throws<X509SvidException>(() => X509Svid.Parse(chain, key));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_GarbageKey_IsRejected()
    {
        var issued = _ca.Issue("/x");

        var empty = Assert.Throws<X509SvidException>(() => X509Svid.Parse(issued.ChainDer, []));
        var garbage = Assert.Throws<X509SvidException>(() => X509Svid.Parse(issued.ChainDer, [1, 2, 3]));

        Assert.Contains("private key is empty", empty.Message, StringComparison.Ordinal);
        Assert.Contains("not an unencrypted PKCS#8", garbage.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_Expired_IsRejected()
    {
        var issued = _ca.Issue("/expired", new TestSvidOptions { NotBefore = DateTimeOffset.UtcNow.AddHours(-2), Ttl = TimeSpan.FromMinutes(30) });
        using var svid = X509Svid.Parse(issued.ChainDer, issued.KeyPkcs8);

        var error = Assert.Throws<X509SvidException>(() => svid.Verify(_ca.Bundle, DateTimeOffset.UtcNow));

        Assert.Contains("does not verify", error.Message, StringComparison.Ordinal);
        Assert.Contains("NotTimeValid", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_AgainstAnotherCaOfTheSameTrustDomain_IsRejected()
    {
        using var stranger = TestCertificateAuthority.Create("example.org");
        var issued = stranger.Issue("/impostor");
        using var svid = X509Svid.Parse(issued.ChainDer, issued.KeyPkcs8);

        var error = Assert.Throws<X509SvidException>(() => svid.Verify(_ca.Bundle, DateTimeOffset.UtcNow));

        Assert.Contains("does not verify against the bundle of \"example.org\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_WrongTrustDomain_IsRejected()
    {
        using var other = TestCertificateAuthority.Create("other.org");
        var issued = other.Issue("/workload");
        using var svid = X509Svid.Parse(issued.ChainDer, issued.KeyPkcs8);

        var wrongBundle = Assert.Throws<X509SvidException>(() => svid.Verify(_ca.Bundle, DateTimeOffset.UtcNow));
        var noBundle = Assert.Throws<X509SvidException>(() => svid.Verify(new X509BundleSet([_ca.Bundle]), DateTimeOffset.UtcNow));

        Assert.Contains("cannot be verified with the bundle of \"example.org\"", wrongBundle.Message, StringComparison.Ordinal);
        Assert.Contains("no X.509 bundle for trust domain \"other.org\"", noBundle.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Verify_EmptyBundle_IsRejected()
    {
        var issued = _ca.Issue("/x");
        using var svid = X509Svid.Parse(issued.ChainDer, issued.KeyPkcs8);

        var error = Assert.Throws<X509SvidException>(() => svid.Verify(new X509Bundle(_ca.TrustDomain, []), DateTimeOffset.UtcNow));

        Assert.Contains("holds no authority", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ExportAndParsePem_RoundTripsCertificatesAndKey()
    {
        using var ca = TestCertificateAuthority.Create("example.org", withIntermediate: true);
        var issued = ca.Issue("/pem");
        using var svid = X509Svid.Parse(issued.ChainDer, issued.KeyPkcs8);

        var certPem = svid.ExportCertificatesPem();
        var keyPem = svid.ExportPrivateKeyPem();
        using var again = X509Svid.ParsePem(certPem, keyPem);

        Assert.StartsWith("-----BEGIN CERTIFICATE-----\n", certPem, StringComparison.Ordinal);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----\n", keyPem, StringComparison.Ordinal);
        Assert.EndsWith("-----END PRIVATE KEY-----\n", keyPem, StringComparison.Ordinal);
        Assert.Equal(svid.ExportCertificatesDer(), again.ExportCertificatesDer());
        Assert.Equal(issued.KeyPkcs8, again.ExportPrivateKeyPkcs8());
    }

    [Fact]
    public void ParsePem_NoKeyBlock_IsRejected()
    {
        var issued = _ca.Issue("/x");

        var error = Assert.Throws<X509SvidException>(() => X509Svid.ParsePem(issued.ChainPem, issued.ChainPem));

        Assert.Contains("no PRIVATE KEY block", error.Message, StringComparison.Ordinal);
    }
}
