using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MiniSpire.Server.Ca;

/// <summary>
/// An X509-SVID as issued: the leaf's DER and the fields the API reports (so nothing parses it again), and
/// the CA certificates its chain carries above the leaf.
/// </summary>
internal sealed record IssuedX509Svid(byte[] CertificateDer, byte[] SerialNumber, DateTimeOffset NotAfter)
{
    public IReadOnlyList<X509Certificate2> Intermediates { get; init; } = [];

    /// <summary>The serial number as lowercase hex, as the datastore records agent SVIDs.</summary>
    public string SerialNumberHex => Convert.ToHexStringLower(SerialNumber);
}

/// <summary>
/// Writes an X.509 v3 certificate's DER (RFC 5280 section 4.1) for an ECDSA-with-SHA256 issuer. It produces the
/// same bytes as <see cref="CertificateRequest.Create(X500DistinguishedName, X509SignatureGenerator, DateTimeOffset, DateTimeOffset, ReadOnlySpan{byte})"/>
/// (a test holds them equal) without loading the result back into an <see cref="X509Certificate2"/>: on
/// OpenSSL 3 that load decodes the subject's public key again and cost about as much as the rest of issuing
/// one SVID.
/// </summary>
internal static class X509SvidEncoder
{
    /// <summary>AlgorithmIdentifier ecdsa-with-SHA256 (RFC 5758 section 3.2: no parameters).</summary>
    private static readonly byte[] EcdsaWithSha256 = EncodeAlgorithmIdentifier("1.2.840.10045.4.3.2");

    /// <summary>The to-be-signed part of the certificate.</summary>
    public static byte[] EncodeTbsCertificate(
        ReadOnlySpan<byte> serialNumber,
        X500DistinguishedName issuer,
        DateTimeOffset notBefore,
        DateTimeOffset notAfter,
        X500DistinguishedName subject,
        PublicKey subjectPublicKey,
        IEnumerable<X509Extension> extensions)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER, initialCapacity: 1024);
        using (writer.PushSequence())
        {
            using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 0)))
            {
                writer.WriteInteger(2); // v3: the certificate carries extensions.
            }

            writer.WriteIntegerUnsigned(serialNumber);
            writer.WriteEncodedValue(EcdsaWithSha256);
            writer.WriteEncodedValue(issuer.RawData);
            using (writer.PushSequence())
            {
                WriteTime(writer, notBefore);
                WriteTime(writer, notAfter);
            }

            writer.WriteEncodedValue(subject.RawData);
            writer.WriteEncodedValue(subjectPublicKey.ExportSubjectPublicKeyInfo());
            using (writer.PushSequence(new Asn1Tag(TagClass.ContextSpecific, 3)))
            using (writer.PushSequence())
            {
                foreach (var extension in extensions)
                {
                    using (writer.PushSequence())
                    {
                        writer.WriteObjectIdentifier(extension.Oid!.Value!);
                        if (extension.Critical)
                        {
                            writer.WriteBoolean(true); // DER omits the DEFAULT FALSE value.
                        }

                        writer.WriteOctetString(extension.RawData);
                    }
                }
            }
        }

        return writer.Encode();
    }

    /// <summary>The signed certificate: the TBS bytes, the algorithm and the issuer's DER-encoded ECDSA signature.</summary>
    public static byte[] EncodeCertificate(ReadOnlySpan<byte> tbsCertificate, ReadOnlySpan<byte> signature)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER, initialCapacity: tbsCertificate.Length + signature.Length + 32);
        using (writer.PushSequence())
        {
            writer.WriteEncodedValue(tbsCertificate);
            writer.WriteEncodedValue(EcdsaWithSha256);
            writer.WriteBitString(signature);
        }

        return writer.Encode();
    }

    /// <summary>A time as the certificate carries it: whole seconds, UTC.</summary>
    public static DateTimeOffset CertificateTime(DateTimeOffset time) => DateTimeOffset.FromUnixTimeSeconds(time.ToUnixTimeSeconds());

    /// <summary>UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 section 4.1.2.5), whole seconds.</summary>
    private static void WriteTime(AsnWriter writer, DateTimeOffset time)
    {
        var seconds = CertificateTime(time);
        if (seconds.Year is >= 1950 and < 2050)
        {
            writer.WriteUtcTime(seconds);
        }
        else
        {
            writer.WriteGeneralizedTime(seconds, omitFractionalSeconds: true);
        }
    }

    private static byte[] EncodeAlgorithmIdentifier(string oid)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteObjectIdentifier(oid);
        }

        return writer.Encode();
    }
}
