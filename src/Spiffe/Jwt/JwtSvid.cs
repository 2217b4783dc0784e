using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace Spiffe.Jwt;

/// <summary>
/// A JWT-SVID: a compact JWS whose <c>sub</c> is a SPIFFE ID. <see cref="Parse"/> validates it as the
/// JWT-SVID standard requires: an allowed algorithm, a key ID, the signature against the JWT bundle of
/// the subject's trust domain, expiry, and the audience.
/// </summary>
public sealed class JwtSvid
{
    /// <summary>How far past <c>exp</c> (or before <c>nbf</c>) a token is still accepted, for clock skew.</summary>
    public static readonly TimeSpan Leeway = TimeSpan.FromSeconds(30);

    private static readonly HashSet<string> AllowedAlgorithms = new(StringComparer.Ordinal)
    {
        "RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512",
    };

    private JwtSvid(string token, SpiffeId id, IReadOnlyList<string> audience, DateTimeOffset expiry, DateTimeOffset? issuedAt, string keyId, string algorithm, string claimsJson, string hint)
    {
        Token = token;
        Id = id;
        Audience = audience;
        Expiry = expiry;
        IssuedAt = issuedAt;
        KeyId = keyId;
        Algorithm = algorithm;
        ClaimsJson = claimsJson;
        Hint = hint;
    }

    /// <summary>The compact token, exactly as received.</summary>
    public string Token { get; }

    /// <summary>The subject.</summary>
    public SpiffeId Id { get; }

    /// <summary>The audiences the token is for.</summary>
    public IReadOnlyList<string> Audience { get; }

    /// <summary>The <c>exp</c> claim.</summary>
    public DateTimeOffset Expiry { get; }

    /// <summary>The <c>iat</c> claim, if present.</summary>
    public DateTimeOffset? IssuedAt { get; }

    /// <summary>The <c>kid</c> header.</summary>
    public string KeyId { get; }

    /// <summary>The <c>alg</c> header.</summary>
    public string Algorithm { get; }

    /// <summary>The decoded claims as JSON text.</summary>
    public string ClaimsJson { get; }

    /// <summary>The hint the Workload API gave the token; empty when none.</summary>
    public string Hint { get; }

    /// <summary>Parses and fully validates a token against <paramref name="bundles"/>.</summary>
    /// <param name="token">The compact JWS.</param>
    /// <param name="bundles">JWT bundles; the one of the subject's trust domain is used.</param>
    /// <param name="audience">Expected audiences; the token must be for at least one of them.</param>
    /// <param name="time">The clock; the system clock when null.</param>
    /// <exception cref="JwtSvidException">The token breaks a rule; the message names it and never contains the token.</exception>
    public static JwtSvid Parse(string token, JwtBundleSet bundles, IReadOnlyCollection<string> audience, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(bundles);
        var parsed = Decode(token, audience, time ?? TimeProvider.System);
        if (!bundles.TryGetBundle(parsed.Id.TrustDomain, out var bundle))
        {
            throw new JwtSvidException($"no JWT bundle for trust domain \"{parsed.Id.TrustDomain}\" of subject \"{parsed.Id}\"");
        }

        if (!bundle.TryGetAuthority(parsed.KeyId, out var authority))
        {
            throw new JwtSvidException($"the JWT bundle of \"{bundle.TrustDomain}\" has no key with ID \"{parsed.KeyId}\"");
        }

        var lastDot = token.LastIndexOf('.');
        var signingInput = Encoding.ASCII.GetBytes(token[..lastDot]);
        byte[] signature;
        try
        {
            signature = Base64Url.DecodeFromChars(token.AsSpan(lastDot + 1));
        }
        catch (FormatException e)
        {
            throw new JwtSvidException("the token's signature is not base64url", e);
        }

        if (!authority.Verify(parsed.Algorithm, signingInput, signature))
        {
            throw new JwtSvidException($"the token's signature does not verify with key \"{parsed.KeyId}\" of \"{bundle.TrustDomain}\"");
        }

        return parsed;
    }

    /// <summary>
    /// Parses a token and checks everything but the signature. For tokens just received from the
    /// Workload API, which the agent signed; never for tokens a peer presents.
    /// </summary>
    /// <exception cref="JwtSvidException">The token breaks a rule; the message names it.</exception>
    public static JwtSvid ParseInsecure(string token, IReadOnlyCollection<string> audience, TimeProvider? time = null) =>
        Decode(token, audience, time ?? TimeProvider.System);

    /// <summary>A copy carrying <paramref name="hint"/>.</summary>
    public JwtSvid WithHint(string hint) =>
        new(Token, Id, Audience, Expiry, IssuedAt, KeyId, Algorithm, ClaimsJson, hint ?? string.Empty);

    private static JwtSvid Decode(string token, IReadOnlyCollection<string> audience, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(audience);
        if (string.IsNullOrEmpty(token))
        {
            throw new JwtSvidException("the token is empty");
        }

        var parts = token.Split('.');
        if (parts.Length != 3)
        {
            throw new JwtSvidException($"the token is not a compact JWS: it has {parts.Length} parts, not 3");
        }

        using var header = ParseJsonPart(parts[0], "header");
        var alg = GetString(header.RootElement, "alg");
        if (alg is null)
        {
            throw new JwtSvidException("the token header has no \"alg\"");
        }

        if (!AllowedAlgorithms.Contains(alg))
        {
            throw new JwtSvidException($"the token's algorithm \"{alg}\" is not allowed; a JWT-SVID uses RS, ES or PS with SHA-256/384/512");
        }

        var kid = GetString(header.RootElement, "kid");
        if (string.IsNullOrEmpty(kid))
        {
            throw new JwtSvidException("the token header has no \"kid\"; a JWT-SVID must name its signing key");
        }

        if (header.RootElement.TryGetProperty("typ", out var typ)
            && (typ.ValueKind != JsonValueKind.String || typ.GetString() is not ("JWT" or "JOSE")))
        {
            throw new JwtSvidException("the token's \"typ\" header must be \"JWT\" or \"JOSE\"");
        }

        using var claims = ParseJsonPart(parts[1], "claims");
        var root = claims.RootElement;
        var sub = GetString(root, "sub");
        if (string.IsNullOrEmpty(sub))
        {
            throw new JwtSvidException("the token has no \"sub\" claim");
        }

        if (!SpiffeId.TryParse(sub, out var id, out var idError))
        {
            throw new JwtSvidException($"the token's subject \"{sub}\" is not a SPIFFE ID: {idError}");
        }

        var tokenAudience = ReadAudience(root);
        var expiry = ReadTime(root, "exp") ?? throw new JwtSvidException("the token has no \"exp\" claim");
        var now = time.GetUtcNow();
        if (now > expiry + Leeway)
        {
            throw new JwtSvidException($"the token expired at {expiry:O}");
        }

        if (ReadTime(root, "nbf") is { } notBefore && now + Leeway < notBefore)
        {
            throw new JwtSvidException($"the token is not valid before {notBefore:O}");
        }

        if (audience.Count > 0 && !tokenAudience.Any(audience.Contains))
        {
            throw new JwtSvidException(
                $"the token's audience [{string.Join(", ", tokenAudience)}] does not include any expected audience [{string.Join(", ", audience)}]");
        }

        return new JwtSvid(token, id, tokenAudience, expiry, ReadTime(root, "iat"), kid, alg, root.GetRawText(), string.Empty);
    }

    private static JsonDocument ParseJsonPart(string part, string name)
    {
        try
        {
            return JsonDocument.Parse(Base64Url.DecodeFromChars(part));
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            throw new JwtSvidException($"the token's {name} is not base64url-encoded JSON", e);
        }
    }

    private static string[] ReadAudience(JsonElement claims)
    {
        if (!claims.TryGetProperty("aud", out var aud))
        {
            throw new JwtSvidException("the token has no \"aud\" claim");
        }

        string[] audience = aud.ValueKind switch
        {
            JsonValueKind.String => [aud.GetString()!],
            JsonValueKind.Array when aud.EnumerateArray().All(a => a.ValueKind == JsonValueKind.String) =>
                [.. aud.EnumerateArray().Select(a => a.GetString()!)],
            _ => throw new JwtSvidException("the token's \"aud\" claim must be a string or an array of strings"),
        };

        if (audience.Length == 0 || audience.Any(string.IsNullOrEmpty))
        {
            throw new JwtSvidException("the token's \"aud\" claim is empty");
        }

        return audience;
    }

    private static DateTimeOffset? ReadTime(JsonElement claims, string name)
    {
        if (!claims.TryGetProperty(name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var seconds))
        {
            throw new JwtSvidException($"the token's \"{name}\" claim is not a number");
        }

        return DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000));
    }

    private static string? GetString(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
