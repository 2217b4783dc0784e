using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MiniSpire.Server.Ca;

/// <summary>The state of an authority (X.509 CA or JWT key) in its rotation.</summary>
internal enum AuthorityState
{
    Prepared,
    Active,
    Old,
}

/// <summary>
/// A signing CA of the server: its certificate and key, and the upstream certificates above it (excluding the
/// root) that SVID chains carry when an upstream authority is configured.
/// </summary>
internal sealed record X509CaAuthority(
    string Id,
    AuthorityState State,
    X509Certificate2 Certificate,
    ECDsa Key,
    IReadOnlyList<X509Certificate2> UpstreamIntermediates)
{
    // One signature at a time per key: an ECDsa instance is not documented as safe for concurrent use. Only
    // the signature itself is serialised; building and encoding certificates runs on every core.
    private readonly Lock _signingLock = new();

    /// <summary>The authority key identifier extension every certificate this CA signs carries: its own SKI.</summary>
    public X509AuthorityKeyIdentifierExtension AuthorityKeyIdentifier { get; } = AuthorityKeyIdentifierOf(Certificate);

    /// <summary>This CA's NotAfter: no certificate it signs outlives it.</summary>
    public DateTimeOffset NotAfter { get; } = new(Certificate.NotAfter.ToUniversalTime());

    public Validity Validity => new(Certificate.NotBefore.ToUniversalTime(), Certificate.NotAfter.ToUniversalTime());

    /// <summary>The certificates an SVID chain carries after its leaf: this CA unless it is the (self-signed) root.</summary>
    public IReadOnlyList<X509Certificate2> ChainAboveLeaf(bool selfSigned) =>
        selfSigned ? [] : [Certificate, .. UpstreamIntermediates];

    /// <summary>Signs a to-be-signed certificate with this CA's key (ecdsa-with-SHA256, DER signature).</summary>
    public byte[] SignTbsCertificate(ReadOnlySpan<byte> tbsCertificate)
    {
        lock (_signingLock)
        {
            return Key.SignData(tbsCertificate, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
    }

    /// <summary>The AKI for certificates signed by <paramref name="issuer"/>: its SKI, or one computed from its key when it has none.</summary>
    public static X509AuthorityKeyIdentifierExtension AuthorityKeyIdentifierOf(X509Certificate2 issuer)
    {
        var ski = issuer.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault()
            ?? new X509SubjectKeyIdentifierExtension(issuer.PublicKey, false);
        return X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(ski);
    }
}

/// <summary>A JWT signing key of the server.</summary>
internal sealed record JwtKeyAuthority(string KeyId, AuthorityState State, ECDsa Key, DateTimeOffset NotBefore, DateTimeOffset NotAfter)
{
    public Validity Validity => new(NotBefore, NotAfter);
}
