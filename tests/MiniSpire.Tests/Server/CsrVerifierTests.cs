using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MiniSpire.Server.Ca;
using Spiffe.Testing;

namespace MiniSpire.Tests.Server;

public sealed class CsrVerifierTests
{
    public static TheoryData<string, string> SupportedShapes => new()
    {
        { "P-256", "SHA256" }, // what agents send: the direct path
        { "P-384", "SHA256" },
        { "P-256", "SHA384" }, // other hashes: CertificateRequest.LoadSigningRequest
        { "RSA", "SHA256" },
    };

    [Theory]
    [MemberData(nameof(SupportedShapes))]
    public void ReadVerifiedPublicKey_SignedCsr_ReturnsItsKey(string keyType, string hash)
    {
        using var key = NewKey(keyType);
        var request = NewRequest(key, new HashAlgorithmName(hash));

        var publicKey = CsrVerifier.ReadVerifiedPublicKey(request.CreateSigningRequest());

        Assert.Equal(request.PublicKey.ExportSubjectPublicKeyInfo(), publicKey.ExportSubjectPublicKeyInfo());
    }

    [Theory]
    [MemberData(nameof(SupportedShapes))]
    public void ReadVerifiedPublicKey_SignedByAnotherKey_Refused(string keyType, string hash)
    {
        using var claimed = NewKey(keyType);
        using var signer = NewKey(keyType);
        var csr = SwapPublicKey(NewRequest(signer, new HashAlgorithmName(hash)).CreateSigningRequest(), NewRequest(claimed, new HashAlgorithmName(hash)).PublicKey);

        var error = Assert.Throws<CryptographicException>(() => CsrVerifier.ReadVerifiedPublicKey(csr));
        if (keyType == "P-256" && hash == "SHA256")
        {
            Assert.Equal("the CSR's signature does not verify with its public key", error.Message);
        }
    }

    [Fact]
    public void ReadVerifiedPublicKey_SignatureBitFlipped_Refused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = NewRequest(key, HashAlgorithmName.SHA256).CreateSigningRequest();
        csr[^5] ^= 0x01;

        var error = Assert.Throws<CryptographicException>(() => CsrVerifier.ReadVerifiedPublicKey(csr));
        Assert.Equal("the CSR's signature does not verify with its public key", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("00")]
    [InlineData("3003020100")]
    public void ReadVerifiedPublicKey_NotACsr_Refused(string hex) =>
        Assert.ThrowsAny<CryptographicException>(() => CsrVerifier.ReadVerifiedPublicKey(Convert.FromHexString(hex)));

    [Fact]
    public void ReadVerifiedPublicKey_TrailingBytes_Refused()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = NewRequest(key, HashAlgorithmName.SHA256).CreateSigningRequest();

        Assert.ThrowsAny<CryptographicException>(() => CsrVerifier.ReadVerifiedPublicKey([.. csr, 0x00]));
    }

    [Fact]
    public void ReadVerifiedPublicKey_UnsupportedKeyType_RefusedNamingIt()
    {
        // An Ed25519 key cannot be made through System.Security.Cryptography: the CSR is built by hand, and
        // its signature cannot verify either, so either refusal is right as long as it is a clear one.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var ed25519 = new PublicKey(new Oid("1.3.101.112"), new AsnEncodedData([0x05, 0x00]), new AsnEncodedData(new byte[32]));
        var csr = SwapPublicKey(NewRequest(key, HashAlgorithmName.SHA256).CreateSigningRequest(), ed25519);

        Assert.ThrowsAny<CryptographicException>(() => CsrVerifier.ReadVerifiedPublicKey(csr));
    }

    [Theory]
    [InlineData("RSA-512", "the CSR's RSA key has 512 bits; at least 2048 are required")]
    [InlineData("RSA-1024", "the CSR's RSA key has 1024 bits; at least 2048 are required")]
    [InlineData("P-192", "the CSR's EC key is on curve 1.2.840.10045.3.1.1; only P-256 (1.2.840.10045.3.1.7) and P-384 (1.3.132.0.34) are allowed")]
    [InlineData("P-521", "the CSR's EC key is on curve 1.3.132.0.35; only P-256 (1.2.840.10045.3.1.7) and P-384 (1.3.132.0.34) are allowed")]
    public void ReadVerifiedPublicKey_KeyBelowSpirePolicy_RefusedSayingWhy(string keyType, string message)
    {
        var csr = WeakCsr(keyType);

        var error = Assert.Throws<CryptographicException>(() => CsrVerifier.ReadVerifiedPublicKey(csr));

        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void ReadVerifiedPublicKey_RsaOf2048AndP384_Accepted()
    {
        Assert.Equal(RsaOid, CsrVerifier.ReadVerifiedPublicKey(WeakCsr("RSA-2048")).Oid.Value);
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        Assert.NotNull(CsrVerifier.ReadVerifiedPublicKey(NewRequest(p384, HashAlgorithmName.SHA256).CreateSigningRequest()));
    }

    [Fact]
    public async Task ReadVerifiedPublicKey_DsaCsrMadeByOpenssl_IsACryptographicRefusal()
    {
        var csr = await DsaCsrAsync();

        // .NET throws NotSupportedException for DSA's signature algorithm: it must become a refusal of the CSR.
        var error = Assert.Throws<CryptographicException>(() => CsrVerifier.ReadVerifiedPublicKey(csr));

        Assert.StartsWith("the CSR cannot be read: ", error.Message, StringComparison.Ordinal);
    }

    private const string RsaOid = "1.2.840.113549.1.1.1";

    /// <summary>A correctly signed CSR for a key SPIRE's policy refuses (or, for RSA-2048, accepts).</summary>
    internal static byte[] WeakCsr(string keyType)
    {
        if (keyType.StartsWith("RSA-", StringComparison.Ordinal))
        {
            using var rsa = RSA.Create(int.Parse(keyType[4..], System.Globalization.CultureInfo.InvariantCulture));
            return new CertificateRequest("CN=weak", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequest();
        }

        using var ec = ECDsa.Create(keyType switch
        {
            "P-192" => ECCurve.CreateFromValue("1.2.840.10045.3.1.1"),
            _ => ECCurve.NamedCurves.nistP521,
        });
        return new CertificateRequest("CN=weak", ec, HashAlgorithmName.SHA256).CreateSigningRequest();
    }

    /// <summary>A DSA CSR, which .NET cannot make: made by the real openssl.</summary>
    internal static async Task<byte[]> DsaCsrAsync()
    {
        var dir = Directory.CreateTempSubdirectory("dsa-csr-").FullName;
        try
        {
            var timeout = TimeSpan.FromSeconds(60);
            foreach (var args in new[]
            {
                new[] { "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:1024", "-out", Path.Combine(dir, "params.pem") },
                ["genpkey", "-paramfile", Path.Combine(dir, "params.pem"), "-out", Path.Combine(dir, "key.pem")],
                ["req", "-new", "-key", Path.Combine(dir, "key.pem"), "-subj", "/CN=dsa", "-outform", "DER", "-out", Path.Combine(dir, "csr.der")],
            })
            {
                var run = await ProcessRunner.RunAsync("openssl", args, timeout);
                Assert.True(run.ExitCode == 0, run.ToString());
            }

            return await File.ReadAllBytesAsync(Path.Combine(dir, "csr.der"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static AsymmetricAlgorithm NewKey(string type) => type switch
    {
        "P-256" => ECDsa.Create(ECCurve.NamedCurves.nistP256),
        "P-384" => ECDsa.Create(ECCurve.NamedCurves.nistP384),
        _ => RSA.Create(2048),
    };

    private static CertificateRequest NewRequest(AsymmetricAlgorithm key, HashAlgorithmName hash) => key switch
    {
        ECDsa ec => new CertificateRequest("CN=csr", ec, hash),
        RSA rsa => new CertificateRequest("CN=csr", rsa, hash, RSASignaturePadding.Pkcs1),
        _ => throw new ArgumentException("unsupported key", nameof(key)),
    };

    /// <summary>The same CSR with another subjectPKInfo: its signature no longer proves possession of the key.</summary>
    internal static byte[] SwapPublicKey(byte[] csr, PublicKey replacement)
    {
        var request = new AsnReader(csr, AsnEncodingRules.DER).ReadSequence();
        var info = request.ReadSequence();
        var algorithm = request.ReadEncodedValue();
        var signature = request.ReadEncodedValue();
        var version = info.ReadEncodedValue();
        var subject = info.ReadEncodedValue();
        info.ReadEncodedValue();
        var attributes = info.ReadEncodedValue();

        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            using (writer.PushSequence())
            {
                writer.WriteEncodedValue(version.Span);
                writer.WriteEncodedValue(subject.Span);
                writer.WriteEncodedValue(replacement.ExportSubjectPublicKeyInfo());
                writer.WriteEncodedValue(attributes.Span);
            }

            writer.WriteEncodedValue(algorithm.Span);
            writer.WriteEncodedValue(signature.Span);
        }

        return writer.Encode();
    }
}
