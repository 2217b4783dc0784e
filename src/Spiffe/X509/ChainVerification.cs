using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Spiffe.X509;

/// <summary>
/// Path validation of a certificate against a trust domain's authorities as the only trust anchors: no
/// system roots, no revocation checks, no downloads. What SVID validation and mTLS between SPIFFE peers need.
/// </summary>
/// <remarks>
/// Not <see cref="X509Chain"/>: on Linux its first use in a process loads and parses the whole system CA
/// store even under custom root trust, about 90 ms of a 125 ms one-shot helper run (bench/results/gaps.md),
/// for roots a SPIFFE path never uses. A SPIFFE path is short (leaf, intermediates, a bundle authority), so
/// it is checked here with RFC 5280's rules for it: issuer and subject names chain, every signature verifies
/// with the issuer's key, every certificate is within its validity at the given time, every issuer is a CA
/// (basic constraints) allowed to sign certificates (key usage), path length constraints hold, and no
/// certificate carries a critical extension this validator does not process (name constraints among them).
/// </remarks>
public static class ChainVerification
{
    /// <summary>The longest path tried, authority included; deeper chains are refused.</summary>
    public const int MaxPathLength = 16;

    private const string BasicConstraintsOid = "2.5.29.19";
    private const string KeyUsageOid = "2.5.29.15";
    private const string ExtendedKeyUsageOid = "2.5.29.37";
    private const string SubjectAltNameOid = "2.5.29.17";
    private const string SubjectKeyIdentifierOid = "2.5.29.14";
    private const string AuthorityKeyIdentifierOid = "2.5.29.35";
    private const string CertificatePoliciesOid = "2.5.29.32";

    private static readonly HashSet<string> ProcessedCriticalExtensions = new(StringComparer.Ordinal)
    {
        BasicConstraintsOid, KeyUsageOid, ExtendedKeyUsageOid, SubjectAltNameOid, SubjectKeyIdentifierOid, AuthorityKeyIdentifierOid, CertificatePoliciesOid,
    };

    /// <summary>
    /// Validates <paramref name="leaf"/> at <paramref name="at"/> through <paramref name="intermediates"/> up to
    /// one of <paramref name="authorities"/>. Returns what is wrong, one entry per problem; empty when valid.
    /// When no path works, the problems of the path that got furthest are returned.
    /// </summary>
    public static IReadOnlyList<string> Verify(X509Certificate2 leaf, IEnumerable<X509Certificate2> authorities, IEnumerable<X509Certificate2> intermediates, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(leaf);
        ArgumentNullException.ThrowIfNull(authorities);
        ArgumentNullException.ThrowIfNull(intermediates);
        var anchors = authorities.ToList();
        var candidates = intermediates.ToList();
        if (anchors.Count == 0)
        {
            return ["no trust anchor: the bundle has no authority"];
        }

        var leafProblems = CertificateProblems(leaf, "leaf", at);
        var best = new BestFailure($"no path from \"{leaf.Subject}\" to an authority of the bundle: its issuer \"{leaf.Issuer}\" is neither an authority nor a presented intermediate that signed it");
        var path = new List<X509Certificate2> { leaf };
        if (TryExtend(path, anchors, candidates, at, best))
        {
            return leafProblems;
        }

        return [.. leafProblems, .. best.Problems];
    }

    // Depth-first: the certificate at the end of the path is signed by an anchor (done) or by an intermediate
    // not yet on the path (go on). Several candidates with the same name are each tried.
    private static bool TryExtend(List<X509Certificate2> path, List<X509Certificate2> anchors, List<X509Certificate2> candidates, DateTimeOffset at, BestFailure best)
    {
        var current = path[^1];
        foreach (var anchor in anchors.Where(a => a.SubjectName.RawData.AsSpan().SequenceEqual(current.IssuerName.RawData)))
        {
            var problems = IssuerProblems(anchor, "authority", path, at);
            if (SignatureProblem(current, anchor) is { } signature)
            {
                problems.Add(signature);
            }

            if (problems.Count == 0)
            {
                return true;
            }

            Remember(problems, path.Count, best);
        }

        if (path.Count >= MaxPathLength)
        {
            Remember([$"the path is longer than {MaxPathLength} certificates"], path.Count, best);
            return false;
        }

        foreach (var intermediate in candidates.Where(c => c.SubjectName.RawData.AsSpan().SequenceEqual(current.IssuerName.RawData) && !path.Any(p => p.RawData.AsSpan().SequenceEqual(c.RawData))))
        {
            var problems = IssuerProblems(intermediate, "intermediate", path, at);
            problems.AddRange(CertificateProblems(intermediate, "intermediate", at));
            if (SignatureProblem(current, intermediate) is { } signature)
            {
                problems.Add(signature);
            }

            if (problems.Count > 0)
            {
                Remember(problems, path.Count, best);
                continue;
            }

            path.Add(intermediate);
            if (TryExtend(path, anchors, candidates, at, best))
            {
                return true;
            }

            path.RemoveAt(path.Count - 1);
        }

        return false;
    }

    private static void Remember(List<string> problems, int depth, BestFailure best)
    {
        // Keep the failure of the longest path tried: the most specific explanation.
        if (depth >= best.Depth)
        {
            best.Depth = depth;
            best.Problems = problems;
        }
    }

    private sealed class BestFailure(string noPath)
    {
        public int Depth { get; set; }

        public List<string> Problems { get; set; } = [noPath];
    }

    /// <summary>What is wrong with <paramref name="certificate"/> on its own: validity at <paramref name="at"/>, unprocessed critical extensions.</summary>
    private static List<string> CertificateProblems(X509Certificate2 certificate, string role, DateTimeOffset at)
    {
        var problems = new List<string>();
        var notBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
        var notAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        if (at < notBefore)
        {
            problems.Add($"NotTimeValid: the {role} \"{certificate.Subject}\" is not valid before {notBefore:O}");
        }
        else if (at > notAfter)
        {
            problems.Add($"NotTimeValid: the {role} \"{certificate.Subject}\" expired at {notAfter:O}");
        }

        foreach (var extension in certificate.Extensions.Where(e => e.Critical && !ProcessedCriticalExtensions.Contains(e.Oid?.Value ?? string.Empty)))
        {
            problems.Add($"HasNotSupportedCriticalExtension: the {role} \"{certificate.Subject}\" has critical extension {extension.Oid?.Value} ({extension.Oid?.FriendlyName}), which is not processed");
        }

        return problems;
    }

    /// <summary>What stops <paramref name="issuer"/> from signing the last certificate of <paramref name="path"/>.</summary>
    private static List<string> IssuerProblems(X509Certificate2 issuer, string role, List<X509Certificate2> path, DateTimeOffset at)
    {
        var problems = role == "authority" ? CertificateProblems(issuer, role, at) : [];
        var constraints = issuer.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        if (constraints is not { CertificateAuthority: true })
        {
            problems.Add($"InvalidBasicConstraints: the {role} \"{issuer.Subject}\" is not a CA (basic constraints)");
        }
        else if (constraints.HasPathLengthConstraint)
        {
            // Intermediates below this issuer on the path (the leaf does not count, RFC 5280 6.1.4 (l)).
            var below = path.Count - 1;
            if (below > constraints.PathLengthConstraint)
            {
                problems.Add($"InvalidBasicConstraints: the {role} \"{issuer.Subject}\" allows {constraints.PathLengthConstraint} intermediate(s) below it; the path has {below}");
            }
        }

        if (issuer.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault() is { } usage && !usage.KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign))
        {
            problems.Add($"NotValidForUsage: the {role} \"{issuer.Subject}\" may not sign certificates (key usage lacks keyCertSign)");
        }

        return problems;
    }

    /// <summary>Null when <paramref name="issuer"/>'s key verifies the signature on <paramref name="certificate"/>.</summary>
    private static string? SignatureProblem(X509Certificate2 certificate, X509Certificate2 issuer)
    {
        byte[] signed;
        string algorithm;
        byte[] signature;
        try
        {
            var reader = new AsnReader(certificate.RawData, AsnEncodingRules.DER);
            var outer = reader.ReadSequence();
            signed = outer.ReadEncodedValue().ToArray();
            var algorithmIdentifier = outer.ReadSequence();
            algorithm = algorithmIdentifier.ReadObjectIdentifier();
            signature = outer.ReadBitString(out _);
        }
        catch (AsnContentException e)
        {
            return $"NotSignatureValid: \"{certificate.Subject}\" is not a well-formed certificate: {e.Message}";
        }

        var valid = algorithm switch
        {
            "1.2.840.10045.4.3.2" => VerifyEcdsa(issuer, signed, signature, HashAlgorithmName.SHA256),
            "1.2.840.10045.4.3.3" => VerifyEcdsa(issuer, signed, signature, HashAlgorithmName.SHA384),
            "1.2.840.10045.4.3.4" => VerifyEcdsa(issuer, signed, signature, HashAlgorithmName.SHA512),
            "1.2.840.113549.1.1.11" => VerifyRsa(issuer, signed, signature, HashAlgorithmName.SHA256),
            "1.2.840.113549.1.1.12" => VerifyRsa(issuer, signed, signature, HashAlgorithmName.SHA384),
            "1.2.840.113549.1.1.13" => VerifyRsa(issuer, signed, signature, HashAlgorithmName.SHA512),
            _ => (bool?)null,
        };
        return valid switch
        {
            true => null,
            false => $"NotSignatureValid: the signature on \"{certificate.Subject}\" does not verify with the key of \"{issuer.Subject}\"",
            null => $"NotSignatureValid: \"{certificate.Subject}\" is signed with algorithm {algorithm}; supported: ECDSA and RSA PKCS#1 v1.5 with SHA-256, SHA-384 or SHA-512",
        };
    }

    private static bool VerifyEcdsa(X509Certificate2 issuer, byte[] signed, byte[] signature, HashAlgorithmName hash)
    {
        using var key = issuer.GetECDsaPublicKey();
        return key is not null && key.VerifyData(signed, signature, hash, DSASignatureFormat.Rfc3279DerSequence);
    }

    private static bool VerifyRsa(X509Certificate2 issuer, byte[] signed, byte[] signature, HashAlgorithmName hash)
    {
        using var key = issuer.GetRSAPublicKey();
        return key is not null && key.VerifyData(signed, signature, hash, RSASignaturePadding.Pkcs1);
    }
}
