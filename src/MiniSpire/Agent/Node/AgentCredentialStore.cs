using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Spiffe;
using Spiffe.X509;

namespace MiniSpire.Agent.Node;

/// <summary>The agent's SVID, its key, and its chain, as kept across restarts.</summary>
internal sealed record AgentCredentials(IReadOnlyList<X509Certificate2> Chain, byte[] PrivateKeyPkcs8)
{
    public X509Certificate2 Leaf => Chain[0];

    public SpiffeId Id { get; } = SpiffeId.Parse(Chain[0].GetUriSans().Single());

    public DateTimeOffset NotBefore => new(Leaf.NotBefore.ToUniversalTime());

    public DateTimeOffset NotAfter => new(Leaf.NotAfter.ToUniversalTime());

    /// <summary>The leaf with its private key, for a TLS client certificate.</summary>
    public X509Certificate2 LeafWithKey()
    {
        using var key = ECDsa.Create();
        key.ImportPkcs8PrivateKey(PrivateKeyPkcs8, out _);
        using var withKey = Leaf.CopyWithPrivateKey(key);

        // Round-trip through PKCS#12 so the key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }
}

/// <summary>
/// Keeps the agent SVID (<c>agent_svid.der</c>), its key (<c>agent_svid.key</c>, mode 0600 from creation)
/// and the last trust bundle (<c>bundle.der</c>) in the data directory, each replaced atomically, so a
/// restarted agent renews with them instead of needing a new join token.
/// </summary>
internal sealed class AgentCredentialStore(string dataDir)
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private string SvidPath => Path.Combine(dataDir, "agent_svid.der");

    private string KeyPath => Path.Combine(dataDir, "agent_svid.key");

    private string BundlePath => Path.Combine(dataDir, "bundle.der");

    public AgentCredentials? LoadCredentials()
    {
        if (!File.Exists(SvidPath) || !File.Exists(KeyPath))
        {
            return null;
        }

        return new AgentCredentials(DerCertificates.Parse(File.ReadAllBytes(SvidPath)), File.ReadAllBytes(KeyPath));
    }

    public void SaveCredentials(AgentCredentials credentials)
    {
        EnsureDirectory();
        WriteAtomically(KeyPath, credentials.PrivateKeyPkcs8);
        WriteAtomically(SvidPath, DerCertificates.Concatenate(credentials.Chain));
    }

    public IReadOnlyList<X509Certificate2>? LoadBundle() =>
        File.Exists(BundlePath) ? DerCertificates.Parse(File.ReadAllBytes(BundlePath)) : null;

    public void SaveBundle(IEnumerable<X509Certificate2> authorities)
    {
        EnsureDirectory();
        WriteAtomically(BundlePath, DerCertificates.Concatenate(authorities));
    }

    private void EnsureDirectory() =>
        Directory.CreateDirectory(dataDir, OwnerOnly | UnixFileMode.UserExecute);

    private static void WriteAtomically(string path, byte[] content)
    {
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = OwnerOnly,
        }))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        File.SetUnixFileMode(temporary, OwnerOnly);
        File.Move(temporary, path, overwrite: true);
    }
}
