using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Spiffe.WorkloadApi.Proto;
using Spiffe.X509;

namespace Spiffe.Testing;

/// <summary>What to get wrong (or right) when the test CA issues an SVID.</summary>
public sealed record TestSvidOptions
{
    public TimeSpan Ttl { get; init; } = TimeSpan.FromHours(1);

    /// <summary>Start of validity; defaults to ten seconds before the CA's clock, as SPIRE does.</summary>
    public DateTimeOffset? NotBefore { get; init; }

    /// <summary>Additional URI SANs after the SPIFFE ID.</summary>
    public IReadOnlyList<string> ExtraUris { get; init; } = [];

    public bool NoUriSan { get; init; }

    public bool LeafIsCa { get; init; }

    public bool OmitKeyUsage { get; init; }

    public bool NonCriticalKeyUsage { get; init; }

    public X509KeyUsageFlags KeyUsage { get; init; } =
        X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.KeyAgreement;

    /// <summary>Return a private key that does not belong to the leaf.</summary>
    public bool WrongKey { get; init; }

    /// <summary>Use an RSA key instead of EC P-256.</summary>
    public bool Rsa { get; init; }
}

/// <summary>An SVID as the test CA issued it, in every form a test needs.</summary>
public sealed record TestSvid(string SpiffeId, X509Certificate2 Leaf, IReadOnlyList<X509Certificate2> Chain, byte[] ChainDer, byte[] KeyPkcs8)
{
    public string ChainPem => Pem.EncodeCertificates(Chain);

    public string KeyPem => Pem.EncodePrivateKey(KeyPkcs8);
}

/// <summary>
/// A certificate authority for tests: a self-signed root for a trust domain, optionally an
/// intermediate, issuing valid SVIDs shaped like SPIRE's and deliberately broken ones.
/// </summary>
public sealed class TestCertificateAuthority : IDisposable
{
    private readonly ECDsa _rootKey;
    private readonly ECDsa? _intermediateKey;
    private readonly TimeProvider _time;

    private TestCertificateAuthority(TrustDomain trustDomain, X509Certificate2 root, ECDsa rootKey, X509Certificate2? intermediate, ECDsa? intermediateKey, TimeProvider time)
    {
        TrustDomain = trustDomain;
        Root = root;
        _rootKey = rootKey;
        Intermediate = intermediate;
        _intermediateKey = intermediateKey;
        _time = time;
    }

    public TrustDomain TrustDomain { get; }

    public X509Certificate2 Root { get; }

    public X509Certificate2? Intermediate { get; }

    public X509Bundle Bundle => new(TrustDomain, [Root]);

    public static TestCertificateAuthority Create(string trustDomain = "example.org", bool withIntermediate = false, TimeProvider? time = null, TimeSpan? caTtl = null)
    {
        time ??= TimeProvider.System;
        var td = TrustDomain.Parse(trustDomain);
        var now = time.GetUtcNow();
        var ttl = caTtl ?? TimeSpan.FromDays(1);
        var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootRequest = CaRequest(td, rootKey, "Test Root");
        var root = rootRequest.CreateSelfSigned(now.AddMinutes(-1), now + ttl);

        X509Certificate2? intermediate = null;
        ECDsa? intermediateKey = null;
        if (withIntermediate)
        {
            intermediateKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = CaRequest(td, intermediateKey, "Test Intermediate");
            request.CertificateExtensions.Add(AuthorityKeyIdentifier(root));
            intermediate = request.Create(root, now.AddMinutes(-1), now + ttl - TimeSpan.FromMinutes(1), RandomSerial());
        }

        return new TestCertificateAuthority(td, root, rootKey, intermediate, intermediateKey, time);
    }

    public TestSvid Issue(string spiffeIdOrPath, TestSvidOptions? options = null)
    {
        options ??= new TestSvidOptions();
        var id = spiffeIdOrPath.StartsWith("spiffe://", StringComparison.Ordinal) ? spiffeIdOrPath : TrustDomain.IdString + spiffeIdOrPath;
        using AsymmetricAlgorithm leafKey = options.Rsa ? RSA.Create(2048) : ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = leafKey is RSA rsa
            ? new CertificateRequest("C=US, O=SPIRE", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest("C=US, O=SPIRE", (ECDsa)leafKey, HashAlgorithmName.SHA256);

        if (!options.NoUriSan)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddUri(new Uri(id));
            foreach (var extra in options.ExtraUris)
            {
                san.AddUri(new Uri(extra));
            }

            request.CertificateExtensions.Add(san.Build());
        }

        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(options.LeafIsCa, false, 0, true));
        if (!options.OmitKeyUsage)
        {
            request.CertificateExtensions.Add(new X509KeyUsageExtension(options.KeyUsage, !options.NonCriticalKeyUsage));
        }

        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));

        var issuer = Intermediate ?? Root;
        var issuerKey = _intermediateKey ?? _rootKey;
        request.CertificateExtensions.Add(AuthorityKeyIdentifier(issuer));
        var notBefore = options.NotBefore ?? _time.GetUtcNow().AddSeconds(-10);
        var notAfter = notBefore + options.Ttl + TimeSpan.FromSeconds(10);
        if (notAfter > issuer.NotAfter)
        {
            notAfter = issuer.NotAfter;
        }

        var generator = X509SignatureGenerator.CreateForECDsa(issuerKey);
        var leaf = request.Create(issuer.SubjectName, generator, notBefore, notAfter, RandomSerial());
        IReadOnlyList<X509Certificate2> chain = Intermediate is null ? [leaf] : [leaf, Intermediate];

        byte[] key;
        if (options.WrongKey)
        {
            using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            key = other.ExportPkcs8PrivateKey();
        }
        else
        {
            key = leafKey.ExportPkcs8PrivateKey();
        }

        return new TestSvid(id, leaf, chain, DerCertificates.Concatenate(chain), key);
    }

    /// <summary>The SVID as one entry of an X509SVIDResponse.</summary>
    public X509SVID ToProto(TestSvid svid, string hint = "") => new()
    {
        SpiffeId = svid.SpiffeId,
        X509Svid = ByteString.CopyFrom(svid.ChainDer),
        X509SvidKey = ByteString.CopyFrom(svid.KeyPkcs8),
        Bundle = ByteString.CopyFrom(Root.RawData),
        Hint = hint,
    };

    /// <summary>A complete X509SVIDResponse holding <paramref name="svids"/>.</summary>
    public X509SVIDResponse Response(params TestSvid[] svids)
    {
        var response = new X509SVIDResponse();
        response.Svids.AddRange(svids.Select(s => ToProto(s)));
        return response;
    }

    public void Dispose()
    {
        _rootKey.Dispose();
        _intermediateKey?.Dispose();
    }

    private static CertificateRequest CaRequest(TrustDomain trustDomain, ECDsa key, string commonName)
    {
        var request = new CertificateRequest($"C=US, O=SPIFFE, CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(trustDomain.IdString));
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request;
    }

    private static X509AuthorityKeyIdentifierExtension AuthorityKeyIdentifier(X509Certificate2 issuer) =>
        X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, includeKeyIdentifier: true, includeIssuerAndSerial: false);

    private static byte[] RandomSerial()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        return serial;
    }
}
