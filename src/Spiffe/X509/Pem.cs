using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Spiffe.X509;

/// <summary>PEM encoding of certificates and PKCS#8 keys, as the files on disk carry them.</summary>
public static class Pem
{
    /// <summary>The PEM label of a certificate.</summary>
    public const string CertificateLabel = "CERTIFICATE";

    /// <summary>The PEM label of an unencrypted PKCS#8 private key.</summary>
    public const string PrivateKeyLabel = "PRIVATE KEY";

    /// <summary>Encodes certificates as consecutive <c>CERTIFICATE</c> blocks, each ending in a newline.</summary>
    public static string EncodeCertificates(IEnumerable<X509Certificate2> certificates)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        var builder = new StringBuilder();
        foreach (var certificate in certificates)
        {
            builder.Append(PemEncoding.Write(CertificateLabel, certificate.RawDataMemory.Span)).Append('\n');
        }

        return builder.ToString();
    }

    /// <summary>Encodes a PKCS#8 private key as one <c>PRIVATE KEY</c> block ending in a newline.</summary>
    public static string EncodePrivateKey(ReadOnlySpan<byte> pkcs8)
    {
        var chars = PemEncoding.Write(PrivateKeyLabel, pkcs8);
        try
        {
            return string.Concat(chars.AsSpan(), "\n");
        }
        finally
        {
            Array.Clear(chars);
        }
    }

    /// <summary>Reads every <c>CERTIFICATE</c> block of <paramref name="pem"/>, in order; other blocks are ignored.</summary>
    /// <exception cref="CryptographicException">No certificate, or a block that does not parse.</exception>
    public static IReadOnlyList<X509Certificate2> DecodeCertificates(ReadOnlySpan<char> pem)
    {
        var certificates = new List<X509Certificate2>();
        foreach (var der in EnumerateBlocks(pem, CertificateLabel))
        {
            try
            {
                certificates.Add(X509CertificateLoader.LoadCertificate(der));
            }
            catch (CryptographicException e)
            {
                throw new CryptographicException($"PEM certificate {certificates.Count + 1} cannot be parsed: {e.Message}", e);
            }
        }

        if (certificates.Count == 0)
        {
            throw new CryptographicException("no CERTIFICATE block found in PEM");
        }

        return certificates;
    }

    /// <summary>Reads the first <c>PRIVATE KEY</c> block of <paramref name="pem"/> as PKCS#8 DER.</summary>
    public static byte[] DecodePrivateKey(ReadOnlySpan<char> pem)
    {
        foreach (var der in EnumerateBlocks(pem, PrivateKeyLabel))
        {
            return der;
        }

        throw new CryptographicException("no PRIVATE KEY block found in PEM");
    }

    private static List<byte[]> EnumerateBlocks(ReadOnlySpan<char> pem, string label)
    {
        var blocks = new List<byte[]>();
        while (PemEncoding.TryFind(pem, out var fields))
        {
            if (pem[fields.Label].SequenceEqual(label))
            {
                var der = new byte[fields.DecodedDataLength];
                if (!Convert.TryFromBase64Chars(pem[fields.Base64Data], der, out var written) || written != der.Length)
                {
                    throw new CryptographicException($"a {label} block has invalid base64");
                }

                blocks.Add(der);
            }

            pem = pem[fields.Location.End.Value..];
        }

        return blocks;
    }
}
