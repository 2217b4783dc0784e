using System.Buffers.Text;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Google.Protobuf;

namespace MiniSpire.Cli;

/// <summary>
/// The SPIFFE bundle format (a JWKS): X.509 authorities as keys with <c>use</c> = <c>x509-svid</c> and one
/// <c>x5c</c> certificate, JWT authorities with <c>use</c> = <c>jwt-svid</c> and a <c>kid</c>, plus
/// <c>spiffe_sequence</c> and <c>spiffe_refresh_hint</c>.
/// </summary>
internal static class SpiffeBundleFormat
{
    public const int DefaultRefreshHintSeconds = 300;

    public static string Write(Proto.Bundle bundle)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("keys");
            foreach (var der in bundle.X509Authorities)
            {
                using var certificate = X509CertificateLoader.LoadCertificate(der.Span);
                writer.WriteStartObject();
                writer.WriteString("use", "x509-svid");
                using (var ec = certificate.GetECDsaPublicKey())
                {
                    if (ec is not null)
                    {
                        var parameters = ec.ExportParameters(false);
                        writer.WriteString("kty", "EC");
                        writer.WriteString("crv", ec.KeySize switch { 256 => "P-256", 384 => "P-384", _ => "P-521" });
                        writer.WriteString("x", Base64Url.EncodeToString(parameters.Q.X));
                        writer.WriteString("y", Base64Url.EncodeToString(parameters.Q.Y));
                    }
                    else
                    {
                        using var rsa = certificate.GetRSAPublicKey();
                        var parameters = rsa!.ExportParameters(false);
                        writer.WriteString("kty", "RSA");
                        writer.WriteString("n", Base64Url.EncodeToString(parameters.Modulus));
                        writer.WriteString("e", Base64Url.EncodeToString(parameters.Exponent));
                    }
                }

                writer.WriteStartArray("x5c");
                writer.WriteStringValue(Convert.ToBase64String(der.Span));
                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            if (!bundle.JwtAuthoritiesJwks.IsEmpty)
            {
                using var jwks = JsonDocument.Parse(bundle.JwtAuthoritiesJwks.Memory);
                if (jwks.RootElement.TryGetProperty("keys", out var keys))
                {
                    foreach (var key in keys.EnumerateArray())
                    {
                        key.WriteTo(writer);
                    }
                }
            }

            writer.WriteEndArray();
            writer.WriteNumber("spiffe_refresh_hint", bundle.RefreshHintSeconds > 0 ? bundle.RefreshHintSeconds : DefaultRefreshHintSeconds);
            writer.WriteNumber("spiffe_sequence", bundle.SequenceNumber);
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Reads a SPIFFE bundle document into the wire message (trust domain left for the caller).</summary>
    public static Proto.Bundle Read(string json)
    {
        using var document = JsonDocument.Parse(json);
        if (!document.RootElement.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("the SPIFFE bundle has no \"keys\" array");
        }

        var bundle = new Proto.Bundle();
        using var jwks = new MemoryStream();
        using (var writer = new Utf8JsonWriter(jwks))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("keys");
            foreach (var key in keys.EnumerateArray())
            {
                var use = key.TryGetProperty("use", out var u) ? u.GetString() : null;
                switch (use)
                {
                    case "x509-svid":
                        if (!key.TryGetProperty("x5c", out var x5c) || x5c.GetArrayLength() != 1)
                        {
                            throw new FormatException("an x509-svid key must have exactly one x5c certificate");
                        }

                        try
                        {
                            bundle.X509Authorities.Add(ByteString.CopyFrom(Convert.FromBase64String(x5c[0].GetString() ?? string.Empty)));
                        }
                        catch (FormatException e)
                        {
                            throw new FormatException($"an x5c certificate is not base64: {e.Message}", e);
                        }

                        break;
                    case "jwt-svid":
                        key.WriteTo(writer);
                        break;
                    default:
                        throw new FormatException($"key with unknown use \"{use}\" (expected x509-svid or jwt-svid)");
                }
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        bundle.JwtAuthoritiesJwks = ByteString.CopyFrom(jwks.ToArray());
        if (document.RootElement.TryGetProperty("spiffe_sequence", out var sequence) && sequence.TryGetInt64(out var s))
        {
            bundle.SequenceNumber = s;
        }

        return bundle;
    }
}
