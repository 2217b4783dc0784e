using System.Text;
using System.Text.Json;
using Spiffe;
using Spiffe.Jwt;
using SpiffeHelper.Config;

namespace SpiffeHelper.Delivery;

/// <summary>A JWT-SVID or JWT bundle that must not be written; the message names the rule and never holds a token.</summary>
internal sealed class JwtOutputException(string message) : Exception(message);

/// <summary>
/// Pure: checks a JWT-SVID or JWT bundle set as the helper requires before writing, and builds the
/// bytes of the JWT bundle file in either format.
/// </summary>
internal static class JwtFiles
{
    /// <summary>
    /// Picks the token for <paramref name="hint"/> and validates it against <paramref name="bundles"/>:
    /// signature and key ID, every requested audience, and expiry (strictly in the future, no leeway).
    /// </summary>
    public static JwtSvid Validate(IReadOnlyList<JwtSvid> received, string hint, JwtSvidOutput output, JwtBundleSet bundles, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(received);
        ArgumentNullException.ThrowIfNull(output);
        var chosen = string.IsNullOrEmpty(hint) ? (received.Count > 0 ? received[0] : null) : received.FirstOrDefault(s => s.Hint == hint);
        if (chosen is null)
        {
            throw new JwtOutputException($"the Workload API sent no JWT-SVID with hint \"{hint}\" (hints received: {string.Join(", ", received.Select(s => $"\"{s.Hint}\""))})");
        }

        JwtSvid validated;
        try
        {
            validated = JwtSvid.Parse(chosen.Token, bundles, [output.Audience], time);
        }
        catch (JwtSvidException e)
        {
            throw new JwtOutputException($"the JWT-SVID of \"{chosen.Id}\" does not validate against the JWT bundle: {e.Message}");
        }

        var missing = output.Audiences.Where(a => !validated.Audience.Contains(a, StringComparer.Ordinal)).ToList();
        if (missing.Count > 0)
        {
            throw new JwtOutputException($"the JWT-SVID of \"{validated.Id}\" is for audience [{string.Join(", ", validated.Audience)}], which lacks the requested [{string.Join(", ", missing)}]");
        }

        if (validated.Expiry <= time.GetUtcNow())
        {
            throw new JwtOutputException($"the JWT-SVID of \"{validated.Id}\" expired at {validated.Expiry:O}");
        }

        return validated;
    }

    /// <summary>The bundle of <paramref name="own"/> must be there and hold at least one key a token could name.</summary>
    public static void CheckBundles(JwtBundleSet bundles, TrustDomain own)
    {
        ArgumentNullException.ThrowIfNull(bundles);
        if (!bundles.TryGetBundle(own, out var bundle))
        {
            throw new JwtOutputException($"the JWT bundles from the Workload API have none for the own trust domain \"{own}\" (received: {string.Join(", ", bundles.Bundles.Select(b => b.TrustDomain.Name))})");
        }

        if (bundle.Count == 0)
        {
            throw new JwtOutputException($"the JWT bundle of \"{own}\" has no usable key (an empty JWKS): no JWT-SVID could be validated with it");
        }
    }

    /// <summary>
    /// The JWT bundle file. <see cref="JwtBundleFormat.Go"/>: a JSON object mapping each trust domain name
    /// (ordered) to the standard base64 of its JWKS, as the Go spiffe-helper writes it.
    /// <see cref="JwtBundleFormat.Jwks"/>: the JWKS of <paramref name="own"/> alone.
    /// </summary>
    public static byte[] BundleFile(JwtBundleSet bundles, TrustDomain own, JwtBundleFormat format)
    {
        ArgumentNullException.ThrowIfNull(bundles);
        if (format == JwtBundleFormat.Jwks)
        {
            return bundles.TryGetBundle(own, out var bundle) ? bundle.ToJwks() : throw new JwtOutputException($"no JWT bundle for \"{own}\"");
        }

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var bundle in bundles.Bundles)
            {
                writer.WriteString(bundle.TrustDomain.Name, Convert.ToBase64String(bundle.ToJwks()));
            }

            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    public static byte[] TokenFile(JwtSvid svid) => Encoding.ASCII.GetBytes(svid.Token);
}
