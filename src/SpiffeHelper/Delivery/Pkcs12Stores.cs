using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Security.Cryptography.X509Certificates;
using Spiffe.X509;
using SpiffeHelper.Config;

namespace SpiffeHelper.Delivery;

/// <summary>
/// PKCS#12 files for Java and other keystore readers: a keystore with the SVID's key and chain under the
/// SPIFFE ID as friendly name (Java's alias), and a truststore of CA certificates marked with Oracle's
/// trusted-key-usage attribute, without which Java's PKCS12 KeyStore does not list a certificate as a
/// trustedCertEntry. Encrypted with PBES2 (AES-256-CBC, PBKDF2-HMAC-SHA256) and MACed with SHA-256,
/// 10,000 iterations each: the defaults of Java 17+ keytool, which OpenSSL 3 reads too.
/// </summary>
internal static class Pkcs12Stores
{
    private const int Iterations = 10_000;

    private static readonly Oid FriendlyNameOid = new("1.2.840.113549.1.9.20");

    /// <summary>Oracle's trustedKeyUsage bag attribute; its value here is anyExtendedKeyUsage (trusted for every purpose).</summary>
    private static readonly Oid JavaTrustedKeyUsageOid = new("2.16.840.1.113894.746875.1.1");

    private const string AnyExtendedKeyUsage = "2.5.29.37.0";

    private static readonly PbeParameters Encryption = new(PbeEncryptionAlgorithm.Aes256Cbc, HashAlgorithmName.SHA256, Iterations);

    /// <summary>The password: the configured value, or the content of the password file (one trailing newline dropped), read now.</summary>
    /// <exception cref="CredentialException">The file cannot be read or is empty (retryable: the previous files stay).</exception>
    public static string ReadPassword(Pkcs12Options options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Password is { } password)
        {
            return password;
        }

        string text;
        try
        {
            text = File.ReadAllText(options.PasswordFile!);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The message names the file and the cause, never its content.
            throw new CredentialException($"cannot read pkcs12_password_file \"{options.PasswordFile}\": {e.Message}", retryable: true);
        }

        text = text.EndsWith("\r\n", StringComparison.Ordinal) ? text[..^2] : text.EndsWith('\n') ? text[..^1] : text;
        return text.Length == 0
            ? throw new CredentialException($"pkcs12_password_file \"{options.PasswordFile}\" is empty; it must hold the keystore password", retryable: true)
            : text;
    }

    /// <summary>A keystore: one private key entry (key and <paramref name="chain"/>, leaf first) named by the SPIFFE ID.</summary>
    public static byte[] Keystore(X509Svid svid, IReadOnlyList<X509Certificate2> chain, string password)
    {
        ArgumentNullException.ThrowIfNull(svid);
        ArgumentNullException.ThrowIfNull(chain);
        var friendlyName = FriendlyName(svid.Id.ToString());
        var localKeyId = new Pkcs9LocalKeyId(svid.Leaf.GetCertHash(HashAlgorithmName.SHA256));

        var keys = new Pkcs12SafeContents();
        var keyBag = keys.AddShroudedKey(svid.PrivateKey, password, Encryption);
        keyBag.Attributes.Add(friendlyName);
        keyBag.Attributes.Add(localKeyId);

        var certificates = new Pkcs12SafeContents();
        for (var i = 0; i < chain.Count; i++)
        {
            var bag = certificates.AddCertificate(chain[i]);
            if (i == 0)
            {
                bag.Attributes.Add(friendlyName);
                bag.Attributes.Add(localKeyId);
            }
        }

        var builder = new Pkcs12Builder();
        builder.AddSafeContentsUnencrypted(keys);
        builder.AddSafeContentsEncrypted(certificates, password, Encryption);
        builder.SealWithMac(password, HashAlgorithmName.SHA256, Iterations);
        return builder.Encode();
    }

    /// <summary>A truststore: one trusted certificate entry per CA, named by <c>Alias</c>.</summary>
    public static byte[] Truststore(IEnumerable<(string Alias, X509Certificate2 Certificate)> authorities, string password)
    {
        ArgumentNullException.ThrowIfNull(authorities);
        var trustedForAnyPurpose = TrustedForAnyPurpose();
        var certificates = new Pkcs12SafeContents();
        foreach (var (alias, certificate) in authorities)
        {
            var bag = certificates.AddCertificate(certificate);
            bag.Attributes.Add(FriendlyName(alias));
            bag.Attributes.Add(trustedForAnyPurpose);
        }

        var builder = new Pkcs12Builder();
        builder.AddSafeContentsEncrypted(certificates, password, Encryption);
        builder.SealWithMac(password, HashAlgorithmName.SHA256, Iterations);
        return builder.Encode();
    }

    private static Pkcs9AttributeObject FriendlyName(string name)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        writer.WriteCharacterString(UniversalTagNumber.BMPString, name);
        return new Pkcs9AttributeObject(FriendlyNameOid, writer.Encode());
    }

    private static Pkcs9AttributeObject TrustedForAnyPurpose()
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        writer.WriteObjectIdentifier(AnyExtendedKeyUsage);
        return new Pkcs9AttributeObject(JavaTrustedKeyUsageOid, writer.Encode());
    }
}
