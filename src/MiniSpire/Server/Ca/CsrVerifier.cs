using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MiniSpire.Server.Ca;

/// <summary>
/// Checks a PKCS#10 certificate signing request (RFC 2986) and returns its public key, the only part of it
/// an SVID uses. The request's signature proves its sender holds the private key. Only the keys SPIRE's
/// policy allows are signed for: RSA of at least 2048 bits, or EC on P-256 or P-384.
/// </summary>
internal static class CsrVerifier
{
    private const string EcdsaWithSha256 = "1.2.840.10045.4.3.2";
    private const string EcPublicKey = "1.2.840.10045.2.1";
    private const string RsaEncryption = "1.2.840.113549.1.1.1";
    private const string P256 = "1.2.840.10045.3.1.7";
    private const string P384 = "1.3.132.0.34";
    private const int MinimumRsaBits = 2048;

    /// <summary>Reads a DER CSR and verifies its signature; throws <see cref="CryptographicException"/> saying what is wrong.</summary>
    public static PublicKey ReadVerifiedPublicKey(byte[] csrDer)
    {
        if (csrDer.Length == 0)
        {
            throw new CryptographicException("the CSR is empty");
        }

        // What agents and workloads send (EC key, ecdsa-with-SHA256) is checked with one key import and one
        // verification. CertificateRequest.LoadSigningRequest, used for every other shape, also decodes the key
        // a second time, which on OpenSSL 3 costs as much as the verification itself.
        var key = TryReadEcdsaSha256(csrDer, out var info, out var signature, out var spki)
            ? VerifyEcdsaSha256(info, signature, spki)
            : LoadSigningRequest(csrDer).PublicKey;
        switch (key.Oid.Value)
        {
            case EcPublicKey:
                RequireAllowedCurve(key);
                break;
            case RsaEncryption:
                RequireRsaSize(key);
                break;
            default:
                throw new CryptographicException($"the CSR's key type {key.Oid.Value} is not supported (EC P-256 or P-384, or RSA of at least {MinimumRsaBits} bits)");
        }

        return key;
    }

    /// <summary>
    /// The general path. A CSR .NET cannot handle (a DSA key, an unknown signature algorithm) may surface as
    /// another exception type: every one of them is a refusal of this CSR, never a failure of the whole call.
    /// </summary>
    private static CertificateRequest LoadSigningRequest(byte[] csrDer)
    {
        try
        {
            return CertificateRequest.LoadSigningRequest(csrDer, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.Default);
        }
        catch (Exception e) when (e is not CryptographicException and (ArgumentException or NotSupportedException or FormatException or AsnContentException or InvalidOperationException))
        {
            throw new CryptographicException($"the CSR cannot be read: {e.Message}", e);
        }
    }

    private static void RequireAllowedCurve(PublicKey key)
    {
        string? curve;
        try
        {
            // The parameters of an EC key are the curve's OID when it is a named curve (RFC 5480).
            curve = key.EncodedParameters is { RawData: { Length: > 0 } parameters }
                ? new AsnReader(parameters, AsnEncodingRules.DER).ReadObjectIdentifier()
                : null;
        }
        catch (AsnContentException)
        {
            curve = null;
        }

        if (curve is not (P256 or P384))
        {
            throw new CryptographicException($"the CSR's EC key is on curve {curve ?? "(explicit parameters)"}; only P-256 ({P256}) and P-384 ({P384}) are allowed");
        }
    }

    private static void RequireRsaSize(PublicKey key)
    {
        using var rsa = key.GetRSAPublicKey() ?? throw new CryptographicException("the CSR's RSA key cannot be read");
        if (rsa.KeySize < MinimumRsaBits)
        {
            throw new CryptographicException($"the CSR's RSA key has {rsa.KeySize} bits; at least {MinimumRsaBits} are required");
        }
    }

    /// <summary>
    /// Splits a well-formed CSR whose signature algorithm is ecdsa-with-SHA256 and whose key is an EC key;
    /// false for anything else, which then takes the general path (and gets its error message there).
    /// </summary>
    private static bool TryReadEcdsaSha256(
        byte[] csrDer, out ReadOnlyMemory<byte> info, out byte[] signature, out ReadOnlyMemory<byte> subjectPublicKeyInfo)
    {
        info = default;
        signature = [];
        subjectPublicKeyInfo = default;
        try
        {
            var outer = new AsnReader(csrDer, AsnEncodingRules.DER);
            var request = outer.ReadSequence();
            outer.ThrowIfNotEmpty();

            info = request.ReadEncodedValue();
            var algorithm = request.ReadSequence();
            if (algorithm.ReadObjectIdentifier() != EcdsaWithSha256 || algorithm.HasData)
            {
                return false;
            }

            signature = request.ReadBitString(out var unusedBits);
            request.ThrowIfNotEmpty();
            if (unusedBits != 0)
            {
                return false;
            }

            var infoReader = new AsnReader(info, AsnEncodingRules.DER).ReadSequence();
            if (!infoReader.TryReadInt32(out var version) || version != 0)
            {
                return false;
            }

            infoReader.ReadEncodedValue(); // subject: not used, an SVID's subject comes from the entry.
            subjectPublicKeyInfo = infoReader.ReadEncodedValue();
            if (!infoReader.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)))
            {
                return false;
            }

            infoReader.ReadEncodedValue(); // attributes: not used.
            infoReader.ThrowIfNotEmpty();
            var keyAlgorithm = new AsnReader(subjectPublicKeyInfo, AsnEncodingRules.DER).ReadSequence().ReadSequence();
            return keyAlgorithm.ReadObjectIdentifier() == EcPublicKey;
        }
        catch (AsnContentException)
        {
            return false;
        }
    }

    private static PublicKey VerifyEcdsaSha256(ReadOnlyMemory<byte> info, byte[] signature, ReadOnlyMemory<byte> subjectPublicKeyInfo)
    {
        using var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo.Span, out var read);
        if (read != subjectPublicKeyInfo.Length
            || !key.VerifyData(info.Span, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence))
        {
            throw new CryptographicException("the CSR's signature does not verify with its public key");
        }

        return PublicKey.CreateFromSubjectPublicKeyInfo(subjectPublicKeyInfo.Span, out _);
    }
}
