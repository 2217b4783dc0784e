using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Spiffe.X509;

/// <summary>What SPIFFE needs to read from a certificate that <see cref="X509Certificate2"/> does not expose.</summary>
public static class CertificateExtensions
{
    private const string SubjectAltNameOid = "2.5.29.17";
    private static readonly Asn1Tag UriTag = new(TagClass.ContextSpecific, 6);

    /// <summary>
    /// Every URI in the subject alternative name extension. .NET offers only the first
    /// (<c>GetNameInfo(UrlName)</c>), and a SPIFFE validator must see them all to reject two.
    /// </summary>
    public static IReadOnlyList<string> GetUriSans(this X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var uris = new List<string>();
        foreach (var extension in certificate.Extensions)
        {
            if (extension.Oid?.Value != SubjectAltNameOid)
            {
                continue;
            }

            try
            {
                var reader = new AsnReader(extension.RawData, AsnEncodingRules.DER);
                var names = reader.ReadSequence();
                while (names.HasData)
                {
                    var tag = names.PeekTag();
                    if (tag == UriTag)
                    {
                        uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, UriTag));
                    }
                    else
                    {
                        names.ReadEncodedValue();
                    }
                }
            }
            catch (AsnContentException e)
            {
                throw new CryptographicException($"the subject alternative name extension is malformed: {e.Message}", e);
            }
        }

        return uris;
    }

    /// <summary>Whether the certificate's basic constraints say it is a CA.</summary>
    public static bool IsCertificateAuthority(this X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault()?.CertificateAuthority == true;
    }

    /// <summary>The key usage extension, if present.</summary>
    public static X509KeyUsageExtension? GetKeyUsage(this X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
    }

    /// <summary>Whether the certificate is valid at <paramref name="at"/>.</summary>
    public static bool IsValidAt(this X509Certificate2 certificate, DateTimeOffset at)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return at >= certificate.NotBefore.ToUniversalTime() && at <= certificate.NotAfter.ToUniversalTime();
    }

    /// <summary>Whether <paramref name="key"/> is the private half of the certificate's public key.</summary>
    public static bool MatchesPrivateKey(this X509Certificate2 certificate, AsymmetricAlgorithm key)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentNullException.ThrowIfNull(key);
        switch (key)
        {
            case ECDsa ecKey:
            {
                using var publicKey = certificate.GetECDsaPublicKey();
                if (publicKey is null)
                {
                    return false;
                }

                var a = publicKey.ExportParameters(false);
                var b = ecKey.ExportParameters(false);
                return a.Curve.Oid.Value == b.Curve.Oid.Value
                    && a.Q.X.AsSpan().SequenceEqual(b.Q.X)
                    && a.Q.Y.AsSpan().SequenceEqual(b.Q.Y);
            }

            case RSA rsaKey:
            {
                using var publicKey = certificate.GetRSAPublicKey();
                if (publicKey is null)
                {
                    return false;
                }

                var a = publicKey.ExportParameters(false);
                var b = rsaKey.ExportParameters(false);
                return a.Modulus.AsSpan().SequenceEqual(b.Modulus) && a.Exponent.AsSpan().SequenceEqual(b.Exponent);
            }

            default:
                return false;
        }
    }
}
