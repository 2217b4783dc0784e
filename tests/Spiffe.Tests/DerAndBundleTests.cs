using System.Security.Cryptography;
using Spiffe.Testing;
using Spiffe.X509;

namespace Spiffe.Tests;

public sealed class DerAndBundleTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org", withIntermediate: true);

    public void Dispose() => _ca.Dispose();

    [Fact]
    public void Split_ConcatenatedCertificates_ReturnsEachInOrder()
    {
        var a = _ca.Issue("/a").Leaf.RawData;
        var b = _ca.Intermediate!.RawData;
        var c = _ca.Root.RawData;

        var parts = DerCertificates.Split([.. a, .. b, .. c]);

        Assert.Equal(3, parts.Count);
        Assert.Equal(a, parts[0]);
        Assert.Equal(b, parts[1]);
        Assert.Equal(c, parts[2]);
    }

    [Fact]
    public void Split_TrailingGarbage_NamesTheBrokenPart()
    {
        var a = _ca.Root.RawData;

        var error = Assert.Throws<CryptographicException>(() => DerCertificates.Split([.. a, 0x30, 0x05, 0x01]));

        Assert.Contains($"certificate 2 at byte {a.Length}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Split_TruncatedCertificate_IsRejected()
    {
        var a = _ca.Root.RawData;

        Assert.Throws<CryptographicException>(() => DerCertificates.Split(a.AsSpan(0, a.Length - 1)));
    }

    [Fact]
    public void Parse_SequenceThatIsNotACertificate_IsRejected()
    {
        var error = Assert.Throws<CryptographicException>(() => DerCertificates.Parse([0x30, 0x03, 0x02, 0x01, 0x01]));

        Assert.Contains("certificate 1 cannot be parsed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bundle_DerAndPem_RoundTrip()
    {
        var bundle = new X509Bundle(_ca.TrustDomain, [_ca.Root, _ca.Intermediate!]);

        var fromDer = X509Bundle.ParseDer(_ca.TrustDomain, bundle.ExportDer());
        var fromPem = X509Bundle.ParsePem(_ca.TrustDomain, bundle.ExportPem());

        Assert.True(bundle.HasSameAuthorities(fromDer));
        Assert.True(bundle.HasSameAuthorities(fromPem));
        Assert.False(bundle.HasSameAuthorities(new X509Bundle(_ca.TrustDomain, [_ca.Root])));
        Assert.Equal(2, fromPem.Authorities.Count);
    }

    [Fact]
    public void Bundle_ParsePemWithoutCertificates_NamesTheTrustDomain()
    {
        var error = Assert.Throws<X509SvidException>(() => X509Bundle.ParsePem(_ca.TrustDomain, "not a pem"));

        Assert.Contains("bundle of \"example.org\"", error.Message, StringComparison.Ordinal);
        Assert.Contains("no CERTIFICATE block", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BundleSet_OrdersByTrustDomainAndFindsByTrustDomain()
    {
        using var other = TestCertificateAuthority.Create("a-first.org");
        var set = new X509BundleSet([_ca.Bundle, other.Bundle]);

        Assert.Equal(["a-first.org", "example.org"], set.Bundles.Select(b => b.TrustDomain.Name));
        Assert.True(set.TryGetBundle(TrustDomain.Parse("example.org"), out var found));
        Assert.Same(_ca.TrustDomain.Name, found!.TrustDomain.Name);
        Assert.Throws<X509SvidException>(() => set.GetBundle(TrustDomain.Parse("missing.org")));
    }
}
