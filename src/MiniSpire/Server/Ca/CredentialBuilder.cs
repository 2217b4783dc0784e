using System.Buffers.Text;
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Spiffe;

namespace MiniSpire.Server.Ca;

/// <summary>
/// Builds certificates and tokens exactly as SPIRE's credential template does (reference section 3 and 4).
/// Pure apart from the random serial numbers and key IDs.
/// </summary>
internal static class CredentialBuilder
{
    public static readonly TimeSpan BackdateNotBefore = TimeSpan.FromSeconds(10);

    // The extensions every leaf carries unchanged, encoded once.
    private static readonly X509Extension LeafBasicConstraints = new X509BasicConstraintsExtension(false, false, 0, true);
    private static readonly X509Extension LeafKeyUsage = new X509KeyUsageExtension(
        X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment | X509KeyUsageFlags.KeyAgreement, true);
    private static readonly X509Extension LeafExtendedKeyUsage = new X509EnhancedKeyUsageExtension(
        [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false); // serverAuth, clientAuth

    /// <summary>A CA certificate: subject C=US, O=SPIFFE, URI SAN spiffe://td, keyCertSign|cRLSign.</summary>
    public static X509Certificate2 CreateCaCertificate(
        TrustDomain trustDomain, ECDsa key, DateTimeOffset now, TimeSpan ttl, X509Certificate2? upstream, ECDsa? upstreamKey)
    {
        // The builder encodes its RDNs last-added first: this yields C=US, O=SPIFFE.
        var subject = new X500DistinguishedNameBuilder();
        subject.AddOrganizationName("SPIFFE");
        subject.AddCountryOrRegion("US");
        var request = new CertificateRequest(subject.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        var ski = new X509SubjectKeyIdentifierExtension(request.PublicKey, false);
        request.CertificateExtensions.Add(ski);
        request.CertificateExtensions.Add(SubjectAlternativeName(trustDomain.IdString, []));

        var notBefore = now - BackdateNotBefore;
        var notAfter = now + ttl;
        if (upstream is null || upstreamKey is null)
        {
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromSubjectKeyIdentifier(ski));
            using var selfSigned = request.Create(subject.Build(), X509SignatureGenerator.CreateForECDsa(key), notBefore, notAfter, NewSerialNumber());
            return X509CertificateLoader.LoadCertificate(selfSigned.RawData);
        }

        request.CertificateExtensions.Add(X509CaAuthority.AuthorityKeyIdentifierOf(upstream));
        var upstreamNotAfter = upstream.NotAfter.ToUniversalTime();
        if (notAfter > upstreamNotAfter)
        {
            notAfter = upstreamNotAfter;
        }

        using var signed = request.Create(upstream.SubjectName, X509SignatureGenerator.CreateForECDsa(upstreamKey), notBefore, notAfter, NewSerialNumber());
        return X509CertificateLoader.LoadCertificate(signed.RawData);
    }

    /// <summary>
    /// An X509-SVID leaf: random 128-bit serial, subject C=US, O=SPIRE (CN = first DNS name), KU
    /// digitalSignature|keyEncipherment|keyAgreement (critical), EKU serverAuth+clientAuth, SKI, AKI = CA SKI,
    /// NotBefore = now - 10 s, NotAfter = now + TTL capped at the CA's NotAfter, exactly one URI SAN.
    /// </summary>
    public static IssuedX509Svid CreateX509Svid(
        X509CaAuthority ca, PublicKey subjectKey, SpiffeId id, IReadOnlyList<string> dnsNames, DateTimeOffset now, TimeSpan ttl)
    {
        // The builder encodes its RDNs last-added first: this yields C=US, O=SPIRE[, CN=first DNS name].
        var subject = new X500DistinguishedNameBuilder();
        if (dnsNames.Count > 0)
        {
            subject.AddCommonName(dnsNames[0]);
        }

        subject.AddOrganizationName("SPIRE");
        subject.AddCountryOrRegion("US");

        var notBefore = now - BackdateNotBefore;
        var notAfter = now + ttl;
        if (notAfter > ca.NotAfter)
        {
            notAfter = ca.NotAfter;
        }

        X509Extension[] extensions =
        [
            LeafBasicConstraints,
            LeafKeyUsage,
            LeafExtendedKeyUsage,
            new X509SubjectKeyIdentifierExtension(subjectKey, false),
            ca.AuthorityKeyIdentifier,
            SubjectAlternativeName(id.ToString(), dnsNames),
        ];
        var serialNumber = NewSerialNumber();
        var tbs = X509SvidEncoder.EncodeTbsCertificate(
            serialNumber, ca.Certificate.SubjectName, notBefore, notAfter, subject.Build(), subjectKey, extensions);
        var certificate = X509SvidEncoder.EncodeCertificate(tbs, ca.SignTbsCertificate(tbs));
        return new IssuedX509Svid(certificate, serialNumber, X509SvidEncoder.CertificateTime(notAfter));
    }

    /// <summary>A JWT-SVID: ES256, kid, typ JWT; claims sub, aud, exp, iat (and iss when configured).</summary>
    public static string CreateJwtSvid(
        JwtKeyAuthority key, SpiffeId subject, IReadOnlyList<string> audience, DateTimeOffset issuedAt, DateTimeOffset expiresAt, string? issuer)
    {
        var header = new Dictionary<string, string> { ["alg"] = "ES256", ["kid"] = key.KeyId, ["typ"] = "JWT" };
        using var claimsBuffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(claimsBuffer))
        {
            writer.WriteStartObject();
            if (audience.Count == 1)
            {
                writer.WriteString("aud", audience[0]);
            }
            else
            {
                writer.WriteStartArray("aud");
                foreach (var a in audience)
                {
                    writer.WriteStringValue(a);
                }

                writer.WriteEndArray();
            }

            writer.WriteNumber("exp", expiresAt.ToUnixTimeSeconds());
            writer.WriteNumber("iat", issuedAt.ToUnixTimeSeconds());
            if (!string.IsNullOrEmpty(issuer))
            {
                writer.WriteString("iss", issuer);
            }

            writer.WriteString("sub", subject.ToString());
            writer.WriteEndObject();
        }

        var signingInput = Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(header)) + "." + Base64Url.EncodeToString(claimsBuffer.ToArray());
        var signature = key.Key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>A random key ID of 32 alphanumeric characters, as SPIRE makes.</summary>
    public static string NewKeyId()
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        return RandomNumberGenerator.GetString(alphabet, 32);
    }

    /// <summary>A random, positive 128-bit serial number.</summary>
    public static byte[] NewSerialNumber()
    {
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        if (serial[0] == 0)
        {
            serial[0] = 0x01;
        }

        return serial;
    }

    /// <summary>
    /// The SAN extension written by hand: System.Uri would normalize "spiffe://td" to "spiffe://td/", and a
    /// SPIFFE ID must be carried byte for byte.
    /// </summary>
    private static X509Extension SubjectAlternativeName(string uri, IReadOnlyList<string> dnsNames)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteCharacterString(UniversalTagNumber.IA5String, uri, new Asn1Tag(TagClass.ContextSpecific, 6));
            foreach (var dns in dnsNames)
            {
                writer.WriteCharacterString(UniversalTagNumber.IA5String, dns, new Asn1Tag(TagClass.ContextSpecific, 2));
            }
        }

        return new X509Extension("2.5.29.17", writer.Encode(), critical: false);
    }

    /// <summary>A serial number as decimal, the way SPIRE's CLI prints it.</summary>
    public static string SerialToDecimal(byte[] bigEndian) =>
        new System.Numerics.BigInteger(bigEndian, isUnsigned: true, isBigEndian: true).ToString();
}
