using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Spiffe.X509;

/// <summary>
/// The Workload API carries certificates as raw DER blobs concatenated back to back, with no
/// length prefix. <see cref="X509Certificate2"/> reads only the first, so the blob is split by
/// walking the outer SEQUENCE of each certificate.
/// </summary>
public static class DerCertificates
{
    /// <summary>Splits concatenated DER certificates into one byte array each, in order.</summary>
    /// <exception cref="CryptographicException">The blob is empty, truncated, or holds something other than a SEQUENCE.</exception>
    public static IReadOnlyList<byte[]> Split(ReadOnlySpan<byte> concatenated)
    {
        if (concatenated.IsEmpty)
        {
            throw new CryptographicException("the certificate blob is empty");
        }

        var parts = new List<byte[]>();
        var offset = 0;
        while (offset < concatenated.Length)
        {
            var remaining = concatenated[offset..];
            Asn1Tag tag;
            int consumed;
            try
            {
                tag = AsnDecoder.ReadEncodedValue(remaining, AsnEncodingRules.DER, out _, out _, out consumed);
            }
            catch (AsnContentException e)
            {
                throw new CryptographicException($"certificate {parts.Count + 1} at byte {offset} is not valid DER: {e.Message}", e);
            }

            if (tag != Asn1Tag.Sequence)
            {
                throw new CryptographicException($"certificate {parts.Count + 1} at byte {offset} is not a DER SEQUENCE (tag {tag})");
            }

            parts.Add(remaining[..consumed].ToArray());
            offset += consumed;
        }

        return parts;
    }

    /// <summary>Parses concatenated DER certificates.</summary>
    public static IReadOnlyList<X509Certificate2> Parse(ReadOnlySpan<byte> concatenated)
    {
        var parts = Split(concatenated);
        var certificates = new X509Certificate2[parts.Count];
        for (var i = 0; i < parts.Count; i++)
        {
            try
            {
                certificates[i] = X509CertificateLoader.LoadCertificate(parts[i]);
            }
            catch (CryptographicException e)
            {
                throw new CryptographicException($"certificate {i + 1} cannot be parsed: {e.Message}", e);
            }
        }

        return certificates;
    }

    /// <summary>Concatenates the DER encodings of <paramref name="certificates"/>.</summary>
    public static byte[] Concatenate(IEnumerable<X509Certificate2> certificates)
    {
        ArgumentNullException.ThrowIfNull(certificates);
        using var buffer = new MemoryStream();
        foreach (var certificate in certificates)
        {
            buffer.Write(certificate.RawDataMemory.Span);
        }

        return buffer.ToArray();
    }
}
