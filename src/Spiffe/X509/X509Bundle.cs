using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Spiffe.X509;

/// <summary>The X.509 authorities (CA certificates) of one trust domain.</summary>
public sealed class X509Bundle
{
    /// <summary>Creates a bundle from CA certificates.</summary>
    public X509Bundle(TrustDomain trustDomain, IEnumerable<X509Certificate2> authorities)
    {
        ArgumentNullException.ThrowIfNull(trustDomain);
        ArgumentNullException.ThrowIfNull(authorities);
        TrustDomain = trustDomain;
        Authorities = [.. authorities];
    }

    /// <summary>The trust domain these authorities speak for.</summary>
    public TrustDomain TrustDomain { get; }

    /// <summary>The CA certificates, in the order received.</summary>
    public IReadOnlyList<X509Certificate2> Authorities { get; }

    /// <summary>Parses concatenated DER certificates, as the Workload API sends them.</summary>
    /// <exception cref="X509SvidException">The blob does not hold certificates.</exception>
    public static X509Bundle ParseDer(TrustDomain trustDomain, ReadOnlySpan<byte> concatenatedDer)
    {
        try
        {
            return new X509Bundle(trustDomain, DerCertificates.Parse(concatenatedDer));
        }
        catch (CryptographicException e)
        {
            throw new X509SvidException($"the X.509 bundle of \"{trustDomain}\" is invalid: {e.Message}", e);
        }
    }

    /// <summary>Parses PEM <c>CERTIFICATE</c> blocks.</summary>
    /// <exception cref="X509SvidException">No certificate, or one that does not parse.</exception>
    public static X509Bundle ParsePem(TrustDomain trustDomain, ReadOnlySpan<char> pem)
    {
        try
        {
            return new X509Bundle(trustDomain, Pem.DecodeCertificates(pem));
        }
        catch (CryptographicException e)
        {
            throw new X509SvidException($"the X.509 bundle of \"{trustDomain}\" is invalid: {e.Message}", e);
        }
    }

    /// <summary>The authorities as PEM <c>CERTIFICATE</c> blocks.</summary>
    public string ExportPem() => Pem.EncodeCertificates(Authorities);

    /// <summary>The authorities as concatenated DER.</summary>
    public byte[] ExportDer() => DerCertificates.Concatenate(Authorities);

    /// <summary>Whether <paramref name="concatenatedDer"/> is exactly these authorities' DER encodings, in order.</summary>
    public bool HasDer(ReadOnlySpan<byte> concatenatedDer)
    {
        foreach (var authority in Authorities)
        {
            var der = authority.RawDataMemory.Span;
            if (!concatenatedDer.StartsWith(der))
            {
                return false;
            }

            concatenatedDer = concatenatedDer[der.Length..];
        }

        return concatenatedDer.IsEmpty;
    }

    /// <summary>Whether both bundles hold the same certificates in the same order.</summary>
    public bool HasSameAuthorities(X509Bundle other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (!TrustDomain.Equals(other.TrustDomain) || Authorities.Count != other.Authorities.Count)
        {
            return false;
        }

        for (var i = 0; i < Authorities.Count; i++)
        {
            if (!Authorities[i].RawDataMemory.Span.SequenceEqual(other.Authorities[i].RawDataMemory.Span))
            {
                return false;
            }
        }

        return true;
    }
}
