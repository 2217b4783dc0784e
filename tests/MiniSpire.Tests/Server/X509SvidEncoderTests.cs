using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MiniSpire.Server.Ca;

namespace MiniSpire.Tests.Server;

public sealed class X509SvidEncoderTests
{
    public static TheoryData<string, string> Validities => new()
    {
        // Fractional seconds are dropped, as CertificateRequest does.
        { "2026-03-01T12:00:00.000Z", "2026-03-01T13:00:00.000Z" },
        { "2026-03-01T12:00:00.731Z", "2026-03-01T13:00:59.999Z" },
        // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050.
        { "2049-12-31T23:59:50.000Z", "2050-01-01T00:00:10.500Z" },
    };

    [Theory]
    [MemberData(nameof(Validities))]
    public void EncodeTbsCertificate_SameInputs_SameBytesAsCertificateRequestCreate(string notBeforeText, string notAfterText)
    {
        var notBefore = DateTimeOffset.Parse(notBeforeText, System.Globalization.CultureInfo.InvariantCulture);
        var notAfter = DateTimeOffset.Parse(notAfterText, System.Globalization.CultureInfo.InvariantCulture);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var subjectKey = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        var issuer = new X500DistinguishedName("C=US, O=SPIFFE");
        var subject = new X500DistinguishedName("C=US, O=SPIRE, CN=web.example.org");
        var request = new CertificateRequest(subject, subjectKey, HashAlgorithmName.SHA256);
        X509Extension[] extensions =
        [
            new X509BasicConstraintsExtension(false, false, 0, true),
            new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true),
            new X509SubjectKeyIdentifierExtension(request.PublicKey, false),
            new X509Extension("2.5.29.17", [0x30, 0x03, 0x82, 0x01, 0x61], false),
        ];
        foreach (var extension in extensions)
        {
            request.CertificateExtensions.Add(extension);
        }

        byte[] serial = [0x7F, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F];
        using var expected = request.Create(issuer, X509SignatureGenerator.CreateForECDsa(caKey), notBefore, notAfter, serial);

        var tbs = X509SvidEncoder.EncodeTbsCertificate(serial, issuer, notBefore, notAfter, subject, request.PublicKey, extensions);

        Assert.Equal(Convert.ToHexString(TbsOf(expected.RawData)), Convert.ToHexString(tbs));
    }

    [Fact]
    public void EncodeCertificate_SignedTbs_LoadsAndVerifiesWithTheIssuerKey()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("C=US, O=SPIFFE", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        using var caCertificate = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        using var subjectKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var publicKey = new CertificateRequest("CN=x", subjectKey, HashAlgorithmName.SHA256).PublicKey;
        var tbs = X509SvidEncoder.EncodeTbsCertificate(
            [0x01], caCertificate.SubjectName, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(5), new X500DistinguishedName("O=SPIRE"), publicKey, []);

        var der = X509SvidEncoder.EncodeCertificate(tbs, caKey.SignData(tbs, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));

        using var certificate = X509CertificateLoader.LoadCertificate(der);
        Assert.Equal("1.2.840.10045.4.3.2", certificate.SignatureAlgorithm.Value);
        Assert.Equal(caCertificate.SubjectName.RawData, certificate.IssuerName.RawData);
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(caCertificate);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(certificate), string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation)));

        var tampered = (byte[])der.Clone();
        tampered[tbs.Length / 2 + 4] ^= 0x01;
        using var broken = X509CertificateLoader.LoadCertificate(tampered);
        using var brokenChain = new X509Chain();
        brokenChain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        brokenChain.ChainPolicy.CustomTrustStore.Add(caCertificate);
        brokenChain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.False(brokenChain.Build(broken));
    }

    private static byte[] TbsOf(byte[] certificate) =>
        new AsnReader(certificate, AsnEncodingRules.DER).ReadSequence().ReadEncodedValue().ToArray();
}
