using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Spiffe.X509;
using Xunit;

namespace Spiffe.Tests;

/// <summary>
/// The path validator against crafted chains. Each verdict is also compared with .NET's X509Chain under
/// custom root trust (the validator it replaces), except where the validator is deliberately stricter.
/// </summary>
public sealed class ChainVerificationTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var item in _owned)
        {
            item.Dispose();
        }
    }

    [Fact]
    public void LeafSignedByRoot_IsValid()
    {
        var (root, rootKey) = Ca("CN=root");
        var leaf = Leaf(root, rootKey);
        AssertValid(leaf, [root], []);
    }

    [Fact]
    public void LeafThroughTwoIntermediates_IsValid()
    {
        var (root, rootKey) = Ca("CN=root");
        var (first, firstKey) = Ca("CN=first", root, rootKey);
        var (second, secondKey) = Ca("CN=second", first, firstKey);
        var leaf = Leaf(second, secondKey);
        AssertValid(leaf, [root], [second, first]);
    }

    [Fact]
    public void RsaRoot_IsValid()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=rsa root", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        AddCaExtensions(request, pathLength: null);
        var root = Own(request.CreateSelfSigned(Now.AddDays(-1), Now.AddDays(1)));
        var leafKey = Own(ECDsa.Create(ECCurve.NamedCurves.nistP256));
        var leafRequest = new CertificateRequest("CN=leaf", leafKey, HashAlgorithmName.SHA256);
        var leaf = Own(leafRequest.Create(root.SubjectName, X509SignatureGenerator.CreateForRSA(rsa, RSASignaturePadding.Pkcs1), Now.AddHours(-1), Now.AddHours(1), [1, 2, 3]));
        AssertValid(leaf, [root], []);
    }

    [Fact]
    public void RootWithTheSameNameButAnotherKey_IsRefused()
    {
        var (root, rootKey) = Ca("CN=root");
        var (impostor, _) = Ca("CN=root");
        var leaf = Leaf(root, rootKey);
        var problems = AssertInvalid(leaf, [impostor], []);
        Assert.Contains(problems, p => p.StartsWith("NotSignatureValid", StringComparison.Ordinal));
    }

    [Fact]
    public void MissingIntermediate_IsRefused()
    {
        var (root, rootKey) = Ca("CN=root");
        var (intermediate, intermediateKey) = Ca("CN=intermediate", root, rootKey);
        var leaf = Leaf(intermediate, intermediateKey);
        var problems = AssertInvalid(leaf, [root], []);
        Assert.Contains(problems, p => p.Contains("no path", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(-3, -2)]
    [InlineData(1, 2)]
    public void LeafOutsideItsValidity_IsRefused(int fromHours, int toHours)
    {
        var (root, rootKey) = Ca("CN=root");
        var leaf = Leaf(root, rootKey, Now.AddHours(fromHours), Now.AddHours(toHours));
        var problems = AssertInvalid(leaf, [root], []);
        Assert.Contains(problems, p => p.StartsWith("NotTimeValid", StringComparison.Ordinal));
    }

    [Fact]
    public void ExpiredIntermediate_IsRefused()
    {
        var (root, rootKey) = Ca("CN=root");
        var (intermediate, intermediateKey) = Ca("CN=intermediate", root, rootKey, Now.AddDays(-3), Now.AddDays(-2));
        var leaf = Leaf(intermediate, intermediateKey, Now.AddDays(-3), Now.AddDays(1));
        var problems = AssertInvalid(leaf, [root], [intermediate]);
        Assert.Contains(problems, p => p.StartsWith("NotTimeValid", StringComparison.Ordinal) && p.Contains("intermediate", StringComparison.Ordinal));
    }

    [Fact]
    public void ExpiredRoot_IsRefused()
    {
        var (root, rootKey) = Ca("CN=root", notBefore: Now.AddDays(-3), notAfter: Now.AddDays(-2));
        var leaf = Leaf(root, rootKey, Now.AddDays(-3), Now.AddDays(1));
        var problems = AssertInvalid(leaf, [root], []);
        Assert.Contains(problems, p => p.StartsWith("NotTimeValid", StringComparison.Ordinal) && p.Contains("authority", StringComparison.Ordinal));
    }

    [Fact]
    public void IntermediateThatIsNotACa_IsRefused()
    {
        var (root, rootKey) = Ca("CN=root");
        var (intermediate, intermediateKey) = Ca("CN=not a ca", root, rootKey, isCa: false);
        var leaf = Leaf(intermediate, intermediateKey);
        var problems = AssertInvalid(leaf, [root], [intermediate]);
        Assert.Contains(problems, p => p.StartsWith("InvalidBasicConstraints", StringComparison.Ordinal));
    }

    [Fact]
    public void IntermediateWithoutKeyCertSign_IsRefused()
    {
        var (root, rootKey) = Ca("CN=root");
        var (intermediate, intermediateKey) = Ca("CN=intermediate", root, rootKey, keyUsage: X509KeyUsageFlags.DigitalSignature);
        var leaf = Leaf(intermediate, intermediateKey);
        var problems = AssertInvalid(leaf, [root], [intermediate]);
        Assert.Contains(problems, p => p.StartsWith("NotValidForUsage", StringComparison.Ordinal));
    }

    [Fact]
    public void PathLengthConstraint_IsEnforced()
    {
        var (root, rootKey) = Ca("CN=root", pathLength: 0);
        var (intermediate, intermediateKey) = Ca("CN=intermediate", root, rootKey);
        var leaf = Leaf(intermediate, intermediateKey);
        var problems = AssertInvalid(leaf, [root], [intermediate]);
        Assert.Contains(problems, p => p.Contains("allows 0 intermediate", StringComparison.Ordinal));

        var direct = Leaf(root, rootKey);
        AssertValid(direct, [root], []);
    }

    [Fact]
    public void TwoIntermediatesWithOneName_TheOneThatSignedIsFound()
    {
        var (root, rootKey) = Ca("CN=root");
        var (other, _) = Ca("CN=intermediate", root, rootKey);
        var (intermediate, intermediateKey) = Ca("CN=intermediate", root, rootKey);
        var leaf = Leaf(intermediate, intermediateKey);

        // X509Chain (OpenSSL) settles on the first candidate by name and refuses this chain; the signature decides here.
        var problems = ChainVerification.Verify(leaf, [root], [other, intermediate], Now);
        Assert.True(problems.Count == 0, string.Join("; ", problems));
        Assert.NotEmpty(ChainVerification.Verify(leaf, [root], [other], Now));
    }

    [Fact]
    public void OneOfSeveralAuthorities_IsEnough()
    {
        var (old, _) = Ca("CN=old root");
        var (root, rootKey) = Ca("CN=root");
        var leaf = Leaf(root, rootKey);
        AssertValid(leaf, [old, root], []);
    }

    [Fact]
    public void EmptyBundle_IsRefused()
    {
        var (root, rootKey) = Ca("CN=root");
        var leaf = Leaf(root, rootKey);
        Assert.NotEmpty(ChainVerification.Verify(leaf, [], [], Now));
    }

    [Fact]
    public void UnprocessedCriticalExtension_IsRefused()
    {
        // Stricter than X509Chain on purpose: a critical extension this validator does not process (here a
        // private one; name constraints are another) must not be ignored (RFC 5280 4.2).
        var (root, rootKey) = Ca("CN=root");
        var (intermediate, intermediateKey) = Ca("CN=intermediate", root, rootKey, extra: new X509Extension("1.3.6.1.4.1.99999.1", [0x05, 0x00], critical: true));
        var leaf = Leaf(intermediate, intermediateKey);
        var problems = ChainVerification.Verify(leaf, [root], [intermediate], Now);
        Assert.Contains(problems, p => p.StartsWith("HasNotSupportedCriticalExtension", StringComparison.Ordinal));
    }

    private static void AssertValid(X509Certificate2 leaf, X509Certificate2[] authorities, X509Certificate2[] intermediates)
    {
        var problems = ChainVerification.Verify(leaf, authorities, intermediates, Now);
        Assert.True(problems.Count == 0, string.Join("; ", problems));
        Assert.True(ReferenceVerdict(leaf, authorities, intermediates), "X509Chain disagrees: it refuses the chain");
    }

    private static IReadOnlyList<string> AssertInvalid(X509Certificate2 leaf, X509Certificate2[] authorities, X509Certificate2[] intermediates)
    {
        var problems = ChainVerification.Verify(leaf, authorities, intermediates, Now);
        Assert.NotEmpty(problems);
        Assert.False(ReferenceVerdict(leaf, authorities, intermediates), "X509Chain disagrees: it accepts the chain");
        return problems;
    }

    private static bool ReferenceVerdict(X509Certificate2 leaf, X509Certificate2[] authorities, X509Certificate2[] intermediates)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.VerificationTime = Now.UtcDateTime;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.ExtraStore.AddRange(intermediates);
        return chain.Build(leaf);
    }

    private (X509Certificate2 Certificate, ECDsa Key) Ca(
        string name,
        X509Certificate2? issuer = null,
        ECDsa? issuerKey = null,
        DateTimeOffset? notBefore = null,
        DateTimeOffset? notAfter = null,
        bool isCa = true,
        int? pathLength = null,
        X509KeyUsageFlags keyUsage = X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign,
        X509Extension? extra = null)
    {
        var key = Own(ECDsa.Create(ECCurve.NamedCurves.nistP256));
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(isCa, pathLength is not null, pathLength ?? 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(keyUsage, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        if (extra is not null)
        {
            request.CertificateExtensions.Add(extra);
        }

        var from = notBefore ?? Now.AddDays(-1);
        var to = notAfter ?? Now.AddDays(1);
        var certificate = issuer is null
            ? request.CreateSelfSigned(from, to)
            : request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey!), from, to, RandomNumberGenerator.GetBytes(8));
        return (Own(certificate), key);
    }

    private X509Certificate2 Leaf(X509Certificate2 issuer, ECDsa issuerKey, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null)
    {
        var key = Own(ECDsa.Create(ECCurve.NamedCurves.nistP256));
        var request = new CertificateRequest("CN=leaf", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri("spiffe://example.org/leaf"));
        request.CertificateExtensions.Add(san.Build(critical: true));
        return Own(request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey), notBefore ?? Now.AddHours(-1), notAfter ?? Now.AddHours(1), RandomNumberGenerator.GetBytes(8)));
    }

    private static void AddCaExtensions(CertificateRequest request, int? pathLength)
    {
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, pathLength is not null, pathLength ?? 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, critical: true));
    }

    private T Own<T>(T item)
        where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }
}
