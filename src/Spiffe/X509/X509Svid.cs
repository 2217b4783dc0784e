using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Spiffe.X509;

/// <summary>
/// An X509-SVID: a SPIFFE ID, its certificate chain (leaf first, then intermediates) and the private
/// key of the leaf. Parsing enforces the leaf and signing-certificate rules of the X509-SVID standard
/// and that the key matches the leaf; <see cref="Verify(X509BundleSet, DateTimeOffset)"/> adds path
/// validation against the trust domain's bundle. Holds a private key: dispose it.
/// </summary>
public sealed class X509Svid : IDisposable
{
    private readonly byte[] _privateKeyPkcs8;

    private X509Svid(SpiffeId id, IReadOnlyList<X509Certificate2> certificates, AsymmetricAlgorithm privateKey, byte[] privateKeyPkcs8, string hint)
    {
        Id = id;
        Certificates = certificates;
        PrivateKey = privateKey;
        _privateKeyPkcs8 = privateKeyPkcs8;
        Hint = hint;
    }

    /// <summary>The SPIFFE ID in the leaf's URI SAN.</summary>
    public SpiffeId Id { get; }

    /// <summary>The chain: leaf first, then intermediates (never the root).</summary>
    public IReadOnlyList<X509Certificate2> Certificates { get; }

    /// <summary>The leaf certificate.</summary>
    public X509Certificate2 Leaf => Certificates[0];

    /// <summary>The intermediates, possibly none.</summary>
    public IEnumerable<X509Certificate2> Intermediates => Certificates.Skip(1);

    /// <summary>The leaf's private key (EC or RSA).</summary>
    public AsymmetricAlgorithm PrivateKey { get; }

    /// <summary>The operator-chosen hint that tells SVIDs of one workload apart; empty when none.</summary>
    public string Hint { get; }

    /// <summary>When the leaf stops being valid.</summary>
    public DateTimeOffset NotAfter => new(Leaf.NotAfter.ToUniversalTime());

    /// <summary>When the leaf starts being valid.</summary>
    public DateTimeOffset NotBefore => new(Leaf.NotBefore.ToUniversalTime());

    /// <summary>
    /// Builds an SVID from the Workload API's form: concatenated DER certificates, leaf first, and an
    /// unencrypted PKCS#8 key.
    /// </summary>
    /// <exception cref="X509SvidException">A rule of the standard is broken; the message names it.</exception>
    public static X509Svid Parse(ReadOnlySpan<byte> chainDer, ReadOnlySpan<byte> privateKeyPkcs8, string? hint = null)
    {
        IReadOnlyList<X509Certificate2> certificates;
        try
        {
            certificates = DerCertificates.Parse(chainDer);
        }
        catch (CryptographicException e)
        {
            throw new X509SvidException($"the certificate chain is invalid: {e.Message}", e);
        }

        return Create(certificates, privateKeyPkcs8, hint);
    }

    /// <summary>Builds an SVID from PEM text: <c>CERTIFICATE</c> blocks (leaf first) and a <c>PRIVATE KEY</c> block.</summary>
    /// <exception cref="X509SvidException">A rule of the standard is broken; the message names it.</exception>
    public static X509Svid ParsePem(ReadOnlySpan<char> certificatesPem, ReadOnlySpan<char> privateKeyPem, string? hint = null)
    {
        IReadOnlyList<X509Certificate2> certificates;
        byte[] key;
        try
        {
            certificates = Pem.DecodeCertificates(certificatesPem);
            key = Pem.DecodePrivateKey(privateKeyPem);
        }
        catch (CryptographicException e)
        {
            throw new X509SvidException($"the PEM input is invalid: {e.Message}", e);
        }

        try
        {
            return Create(certificates, key, hint);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    private static X509Svid Create(IReadOnlyList<X509Certificate2> certificates, ReadOnlySpan<byte> privateKeyPkcs8, string? hint)
    {
        var id = ValidateLeaf(certificates[0]);
        for (var i = 1; i < certificates.Count; i++)
        {
            ValidateSigningCertificate(certificates[i], i);
        }

        var privateKey = ImportPrivateKey(privateKeyPkcs8);
        if (!certificates[0].MatchesPrivateKey(privateKey))
        {
            privateKey.Dispose();
            throw new X509SvidException("the private key does not match the leaf certificate's public key");
        }

        return new X509Svid(id, certificates, privateKey, privateKeyPkcs8.ToArray(), hint ?? string.Empty);
    }

    /// <summary>
    /// Checks the chain against the bundle of the SVID's own trust domain (RFC 5280 path validation
    /// at <paramref name="at"/>, no revocation, no downloads).
    /// </summary>
    /// <exception cref="X509SvidException">No bundle for the trust domain, or the chain does not verify.</exception>
    public void Verify(X509BundleSet bundles, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(bundles);
        Verify(bundles.GetBundle(Id.TrustDomain), at);
    }

    /// <inheritdoc cref="Verify(X509BundleSet, DateTimeOffset)"/>
    public void Verify(X509Bundle bundle, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        if (!bundle.TrustDomain.Equals(Id.TrustDomain))
        {
            throw new X509SvidException(
                $"the SVID of trust domain \"{Id.TrustDomain}\" cannot be verified with the bundle of \"{bundle.TrustDomain}\"");
        }

        if (bundle.Authorities.Count == 0)
        {
            throw new X509SvidException($"the X.509 bundle of \"{bundle.TrustDomain}\" holds no authority");
        }

        var problems = ChainVerification.Verify(Leaf, bundle.Authorities, Intermediates, at);
        if (problems.Count > 0)
        {
            throw new X509SvidException(
                $"the certificate chain of \"{Id}\" does not verify against the bundle of \"{bundle.TrustDomain}\": {string.Join("; ", problems)}");
        }
    }

    /// <summary>The chain as PEM: the leaf, then the intermediates unless <paramref name="includeIntermediates"/> is false.</summary>
    public string ExportCertificatesPem(bool includeIntermediates = true) =>
        Pem.EncodeCertificates(includeIntermediates ? Certificates : [Leaf]);

    /// <summary>The private key as one PEM <c>PRIVATE KEY</c> (PKCS#8) block.</summary>
    public string ExportPrivateKeyPem() => Pem.EncodePrivateKey(_privateKeyPkcs8);

    /// <summary>A copy of the private key as PKCS#8 DER; the caller should clear it after use.</summary>
    public byte[] ExportPrivateKeyPkcs8() => (byte[])_privateKeyPkcs8.Clone();

    /// <summary>The chain as concatenated DER, as the Workload API sends it.</summary>
    public byte[] ExportCertificatesDer() => DerCertificates.Concatenate(Certificates);

    /// <inheritdoc/>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_privateKeyPkcs8);
        PrivateKey.Dispose();
    }

    private static SpiffeId ValidateLeaf(X509Certificate2 leaf)
    {
        var uris = leaf.GetUriSans();
        if (uris.Count == 0)
        {
            throw new X509SvidException("the leaf certificate has no URI SAN; an X509-SVID must carry its SPIFFE ID there");
        }

        if (uris.Count > 1)
        {
            throw new X509SvidException($"the leaf certificate has {uris.Count} URI SANs; an X509-SVID must have exactly one");
        }

        if (!SpiffeId.TryParse(uris[0], out var id, out var error))
        {
            throw new X509SvidException($"the leaf certificate's URI SAN \"{uris[0]}\" is not a SPIFFE ID: {error}");
        }

        if (id.IsTrustDomainId)
        {
            throw new X509SvidException($"the leaf certificate's SPIFFE ID \"{id}\" has no path; a leaf SVID must not name a trust domain");
        }

        if (leaf.IsCertificateAuthority())
        {
            throw new X509SvidException("the leaf certificate is a CA (basicConstraints cA=true); a leaf SVID must not be");
        }

        var keyUsage = leaf.GetKeyUsage();
        if (keyUsage is null)
        {
            throw new X509SvidException("the leaf certificate has no key usage extension; an X509-SVID must have one with digitalSignature");
        }

        if (!keyUsage.Critical)
        {
            throw new X509SvidException("the leaf certificate's key usage extension is not critical; the X509-SVID standard requires it to be");
        }

        if (!keyUsage.KeyUsages.HasFlag(X509KeyUsageFlags.DigitalSignature))
        {
            throw new X509SvidException("the leaf certificate's key usage lacks digitalSignature");
        }

        if (keyUsage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign))
        {
            throw new X509SvidException("the leaf certificate's key usage has keyCertSign; a leaf SVID must not");
        }

        if (keyUsage.KeyUsages.HasFlag(X509KeyUsageFlags.CrlSign))
        {
            throw new X509SvidException("the leaf certificate's key usage has cRLSign; a leaf SVID must not");
        }

        return id;
    }

    private static void ValidateSigningCertificate(X509Certificate2 certificate, int index)
    {
        if (!certificate.IsCertificateAuthority())
        {
            throw new X509SvidException($"intermediate certificate {index} is not a CA (basicConstraints cA=true is required of a signing certificate)");
        }

        var keyUsage = certificate.GetKeyUsage();
        if (keyUsage is null || !keyUsage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign))
        {
            throw new X509SvidException($"intermediate certificate {index} lacks the keyCertSign key usage");
        }

        foreach (var uri in certificate.GetUriSans())
        {
            if (SpiffeId.TryParse(uri, out var id) && !id.IsTrustDomainId)
            {
                throw new X509SvidException($"intermediate certificate {index} has SPIFFE ID \"{id}\" with a path; a signing certificate's ID must not have one");
            }
        }
    }

    private static AsymmetricAlgorithm ImportPrivateKey(ReadOnlySpan<byte> pkcs8)
    {
        if (pkcs8.IsEmpty)
        {
            throw new X509SvidException("the private key is empty");
        }

        // Try the key types SPIRE can issue; PKCS#8 names the algorithm, and the wrong importer refuses it.
        var ec = ECDsa.Create();
        try
        {
            ec.ImportPkcs8PrivateKey(pkcs8, out var read);
            if (read == pkcs8.Length)
            {
                return ec;
            }
        }
        catch (CryptographicException)
        {
        }

        ec.Dispose();
        var rsa = RSA.Create();
        try
        {
            rsa.ImportPkcs8PrivateKey(pkcs8, out var read);
            if (read == pkcs8.Length)
            {
                return rsa;
            }
        }
        catch (CryptographicException)
        {
        }

        rsa.Dispose();
        throw new X509SvidException("the private key is not an unencrypted PKCS#8 EC or RSA key");
    }
}
