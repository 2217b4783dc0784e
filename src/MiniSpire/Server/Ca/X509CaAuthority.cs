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
    public Validity Validity => new(Certificate.NotBefore.ToUniversalTime(), Certificate.NotAfter.ToUniversalTime());

    /// <summary>The certificates an SVID chain carries after its leaf: this CA unless it is the (self-signed) root.</summary>
    public IReadOnlyList<X509Certificate2> ChainAboveLeaf(bool selfSigned) =>
        selfSigned ? [] : [Certificate, .. UpstreamIntermediates];
}

/// <summary>A JWT signing key of the server.</summary>
internal sealed record JwtKeyAuthority(string KeyId, AuthorityState State, ECDsa Key, DateTimeOffset NotBefore, DateTimeOffset NotAfter)
{
    public Validity Validity => new(NotBefore, NotAfter);
}
