using System.Diagnostics.CodeAnalysis;
using System.Text.Json;

namespace Spiffe.Jwt;

/// <summary>The JWT authorities (public keys by key ID) of one trust domain; a JWKS on the wire.</summary>
public sealed class JwtBundle
{
    private readonly Dictionary<string, JwtAuthority> _authorities;

    /// <summary>Creates a bundle; every authority must have a distinct key ID.</summary>
    public JwtBundle(TrustDomain trustDomain, IEnumerable<JwtAuthority> authorities)
    {
        ArgumentNullException.ThrowIfNull(trustDomain);
        ArgumentNullException.ThrowIfNull(authorities);
        TrustDomain = trustDomain;
        _authorities = new Dictionary<string, JwtAuthority>(StringComparer.Ordinal);
        foreach (var authority in authorities)
        {
            if (!_authorities.TryAdd(authority.KeyId, authority))
            {
                throw new JwtSvidException($"the JWT bundle of \"{trustDomain}\" has key ID \"{authority.KeyId}\" twice");
            }
        }
    }

    /// <summary>The trust domain these keys speak for.</summary>
    public TrustDomain TrustDomain { get; }

    /// <summary>The authorities, ordered by key ID.</summary>
    public IEnumerable<JwtAuthority> Authorities => _authorities.Values.OrderBy(a => a.KeyId, StringComparer.Ordinal);

    /// <summary>The number of keys.</summary>
    public int Count => _authorities.Count;

    /// <summary>The key with ID <paramref name="keyId"/>, if present.</summary>
    public bool TryGetAuthority(string keyId, [MaybeNullWhen(false)] out JwtAuthority authority) =>
        _authorities.TryGetValue(keyId, out authority);

    /// <summary>
    /// Parses a JWKS document (<c>{"keys":[...]}</c>). Keys SPIFFE uses for X.509 (<c>use</c> = <c>x509-svid</c>)
    /// are skipped; every other key must have a <c>kid</c> and be an EC or RSA key.
    /// </summary>
    /// <exception cref="JwtSvidException">Not a JWKS, a key without kid, an unsupported key, or no usable key.</exception>
    public static JwtBundle Parse(TrustDomain trustDomain, ReadOnlySpan<byte> jwks)
    {
        ArgumentNullException.ThrowIfNull(trustDomain);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(jwks.ToArray());
        }
        catch (JsonException e)
        {
            throw new JwtSvidException($"the JWT bundle of \"{trustDomain}\" is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("keys", out var keys)
                || keys.ValueKind != JsonValueKind.Array)
            {
                throw new JwtSvidException($"the JWT bundle of \"{trustDomain}\" is not a JWKS: it needs a \"keys\" array");
            }

            var authorities = new List<JwtAuthority>();
            var index = 0;
            foreach (var key in keys.EnumerateArray())
            {
                index++;
                if (key.ValueKind == JsonValueKind.Object && key.TryGetProperty("use", out var use) && use.ValueKind == JsonValueKind.String && use.GetString() == "x509-svid")
                {
                    continue;
                }

                var authority = JwtAuthority.ReadJwk(key, out var problem)
                    ?? throw new JwtSvidException($"key {index} of the JWT bundle of \"{trustDomain}\" {problem}");
                authorities.Add(authority);
            }

            return new JwtBundle(trustDomain, authorities);
        }
    }

    /// <summary>The bundle as a JWKS document (UTF-8 JSON).</summary>
    public byte[] ToJwks()
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("keys");
            foreach (var authority in Authorities)
            {
                authority.WriteJwk(writer);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }
}
