using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;

namespace Spiffe.Jwt;

/// <summary>One public key of a JWT bundle, identified by its key ID.</summary>
public sealed class JwtAuthority
{
    private readonly ECParameters? _ec;
    private readonly RSAParameters? _rsa;

    private JwtAuthority(string keyId, ECParameters? ec, RSAParameters? rsa)
    {
        KeyId = keyId;
        _ec = ec;
        _rsa = rsa;
    }

    /// <summary>The key ID (<c>kid</c>) tokens name in their header.</summary>
    public string KeyId { get; }

    /// <summary>The JWK key type: <c>EC</c> or <c>RSA</c>.</summary>
    public string KeyType => _ec is not null ? "EC" : "RSA";

    /// <summary>Creates an authority from the public part of an EC or RSA key.</summary>
    public static JwtAuthority FromKey(string keyId, AsymmetricAlgorithm publicKey)
    {
        ArgumentException.ThrowIfNullOrEmpty(keyId);
        return publicKey switch
        {
            ECDsa ec => new JwtAuthority(keyId, ec.ExportParameters(false), null),
            RSA rsa => new JwtAuthority(keyId, null, rsa.ExportParameters(false)),
            _ => throw new ArgumentException("only EC and RSA keys can be JWT authorities", nameof(publicKey)),
        };
    }

    /// <summary>Verifies a JWS signature made with <paramref name="algorithm"/> over <paramref name="signingInput"/>.</summary>
    internal bool Verify(string algorithm, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
    {
        var hash = algorithm[2..] switch
        {
            "256" => HashAlgorithmName.SHA256,
            "384" => HashAlgorithmName.SHA384,
            "512" => HashAlgorithmName.SHA512,
            _ => throw new JwtSvidException($"unsupported algorithm \"{algorithm}\""),
        };

        if (algorithm[0] == 'E')
        {
            if (_ec is not { } parameters)
            {
                throw new JwtSvidException($"the token's algorithm {algorithm} needs an EC key, but key \"{KeyId}\" is {KeyType}");
            }

            using var ec = ECDsa.Create(parameters);
            var expectedBits = algorithm switch { "ES256" => 256, "ES384" => 384, _ => 521 };
            if (ec.KeySize != expectedBits)
            {
                throw new JwtSvidException($"the token's algorithm {algorithm} needs a P-{expectedBits} key, but key \"{KeyId}\" is P-{ec.KeySize}");
            }

            return ec.VerifyData(signingInput, signature, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        }

        if (_rsa is not { } rsaParameters)
        {
            throw new JwtSvidException($"the token's algorithm {algorithm} needs an RSA key, but key \"{KeyId}\" is {KeyType}");
        }

        using var rsa = RSA.Create(rsaParameters);
        var padding = algorithm[0] == 'P' ? RSASignaturePadding.Pss : RSASignaturePadding.Pkcs1;
        return rsa.VerifyData(signingInput, signature, hash, padding);
    }

    /// <summary>Reads one JWK object; returns null with a reason for a key SPIFFE cannot use.</summary>
    internal static JwtAuthority? ReadJwk(JsonElement jwk, out string? problem)
    {
        problem = null;
        if (jwk.ValueKind != JsonValueKind.Object)
        {
            problem = "is not a JSON object";
            return null;
        }

        var keyId = GetString(jwk, "kid");
        if (string.IsNullOrEmpty(keyId))
        {
            problem = "has no \"kid\"";
            return null;
        }

        var keyType = GetString(jwk, "kty");
        try
        {
            switch (keyType)
            {
                case "EC":
                    var curve = GetString(jwk, "crv") switch
                    {
                        "P-256" => ECCurve.NamedCurves.nistP256,
                        "P-384" => ECCurve.NamedCurves.nistP384,
                        "P-521" => ECCurve.NamedCurves.nistP521,
                        var other => throw new JwtSvidException($"has unsupported curve \"{other}\""),
                    };
                    var ec = new ECParameters
                    {
                        Curve = curve,
                        Q = new ECPoint { X = GetBase64Url(jwk, "x"), Y = GetBase64Url(jwk, "y") },
                    };
                    ec.Validate();
                    return new JwtAuthority(keyId, ec, null);
                case "RSA":
                    return new JwtAuthority(keyId, null, new RSAParameters { Modulus = GetBase64Url(jwk, "n"), Exponent = GetBase64Url(jwk, "e") });
                default:
                    problem = $"has unsupported key type \"{keyType}\" (EC and RSA are supported)";
                    return null;
            }
        }
        catch (Exception e) when (e is JwtSvidException or CryptographicException or FormatException)
        {
            problem = e.Message;
            return null;
        }
    }

    /// <summary>Writes the key as a JWK object.</summary>
    internal void WriteJwk(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        writer.WriteString("kty", KeyType);
        writer.WriteString("kid", KeyId);
        writer.WriteString("use", "jwt-svid");
        if (_ec is { } ec)
        {
            writer.WriteString("crv", ec.Curve.Oid.Value switch
            {
                "1.2.840.10045.3.1.7" => "P-256",
                "1.3.132.0.34" => "P-384",
                _ => "P-521",
            });
            writer.WriteString("x", Base64Url.EncodeToString(ec.Q.X));
            writer.WriteString("y", Base64Url.EncodeToString(ec.Q.Y));
        }
        else if (_rsa is { } rsa)
        {
            writer.WriteString("n", Base64Url.EncodeToString(rsa.Modulus));
            writer.WriteString("e", Base64Url.EncodeToString(rsa.Exponent));
        }

        writer.WriteEndObject();
    }

    private static string? GetString(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static byte[] GetBase64Url(JsonElement element, string name)
    {
        var text = GetString(element, name);
        if (string.IsNullOrEmpty(text))
        {
            throw new JwtSvidException($"has no \"{name}\"");
        }

        return Base64Url.DecodeFromChars(text);
    }
}
