using System.Security.Cryptography.X509Certificates;

namespace Spiffe.X509;

/// <summary>
/// RFC 5280 path validation of a certificate against a trust domain's authorities as the only trust
/// anchors: no system roots, no revocation checks, no downloads. What SVID validation and mTLS between
/// SPIFFE peers both need.
/// </summary>
public static class ChainVerification
{
    /// <summary>
    /// Validates <paramref name="leaf"/> at <paramref name="at"/> through <paramref name="intermediates"/> up to
    /// one of <paramref name="authorities"/>. Returns what is wrong, one entry per problem; empty when valid.
    /// </summary>
    public static IReadOnlyList<string> Verify(X509Certificate2 leaf, IEnumerable<X509Certificate2> authorities, IEnumerable<X509Certificate2> intermediates, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        ArgumentNullException.ThrowIfNull(authorities);
        ArgumentNullException.ThrowIfNull(intermediates);
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.DisableCertificateDownloads = true;
        policy.VerificationTime = at.UtcDateTime;
        policy.VerificationTimeIgnored = false;
        policy.CustomTrustStore.AddRange(authorities.ToArray());
        policy.ExtraStore.AddRange(intermediates.ToArray());
        if (chain.Build(leaf))
        {
            return [];
        }

        return [.. chain.ChainStatus
            .Where(s => s.Status != X509ChainStatusFlags.NoError)
            .Select(s => $"{s.Status}: {s.StatusInformation.Trim()}")
            .Distinct()
            .DefaultIfEmpty("the chain does not build")];
    }
}
