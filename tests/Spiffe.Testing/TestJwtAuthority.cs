using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Spiffe.Jwt;

namespace Spiffe.Testing;

/// <summary>What to get wrong (or right) when minting a JWT-SVID.</summary>
public sealed record TestJwtOptions
{
    public TimeSpan Ttl { get; init; } = TimeSpan.FromMinutes(5);

    public string Algorithm { get; init; } = "ES256";

    /// <summary>The kid header; null omits it.</summary>
    public string? KeyId { get; init; } = "use-authority-key";

    public string? Type { get; init; } = "JWT";

    /// <summary>Flip a bit of the signature.</summary>
    public bool TamperSignature { get; init; }
}

/// <summary>A JWT signing key of a trust domain for tests, minting valid and broken JWT-SVIDs.</summary>
public sealed class TestJwtAuthority : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly TimeProvider _time;

    public TestJwtAuthority(string trustDomain = "example.org", string keyId = "test-key-1", TimeProvider? time = null)
    {
        TrustDomain = TrustDomain.Parse(trustDomain);
        KeyId = keyId;
        _time = time ?? TimeProvider.System;
    }

    public TrustDomain TrustDomain { get; }

    public string KeyId { get; }

    public JwtBundle Bundle => new(TrustDomain, [JwtAuthority.FromKey(KeyId, _key)]);

    public string Mint(string subject, IReadOnlyList<string> audience, TestJwtOptions? options = null)
    {
        options ??= new TestJwtOptions();
        var now = _time.GetUtcNow();
        var header = Json(writer =>
        {
            writer.WriteString("alg", options.Algorithm);
            if (options.KeyId is not null)
            {
                writer.WriteString("kid", options.KeyId == "use-authority-key" ? KeyId : options.KeyId);
            }

            if (options.Type is not null)
            {
                writer.WriteString("typ", options.Type);
            }
        });
        var claims = Json(writer =>
        {
            writer.WriteString("sub", subject);
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

            writer.WriteNumber("exp", (now + options.Ttl).ToUnixTimeSeconds());
            writer.WriteNumber("iat", now.ToUnixTimeSeconds());
        });

        var signingInput = Base64Url.EncodeToString(header) + "." + Base64Url.EncodeToString(claims);
        var signature = _key.SignData(Encoding.ASCII.GetBytes(signingInput), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        if (options.TamperSignature)
        {
            signature[0] ^= 0x01;
        }

        return signingInput + "." + Base64Url.EncodeToString(signature);
    }

    public void Dispose() => _key.Dispose();

    private static byte[] Json(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            write(writer);
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
