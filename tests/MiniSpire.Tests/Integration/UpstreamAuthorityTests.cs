using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MiniSpire.Config;
using MiniSpire.Proto;
using MiniSpire.Tests.Support;
using Spiffe.X509;
using X509Svid = Spiffe.X509.X509Svid;

namespace MiniSpire.Tests.Integration;

public sealed class UpstreamAuthorityTests : IDisposable
{
    private readonly string _dir = TestServer.NewTempDirectory();

    [Fact]
    public async Task UpstreamAuthority_SvidChain_IsLeafPlusIntermediateAndVerifiesAgainstTheUpstreamRoot()
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Upstream Root, O=Example", rootKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var root = request.CreateSelfSigned(TimeProvider.System.GetUtcNow().AddMinutes(-5), TimeProvider.System.GetUtcNow().AddDays(30));
        var certPath = Path.Combine(_dir, "upstream.crt");
        var keyPath = Path.Combine(_dir, "upstream.key");
        await File.WriteAllTextAsync(certPath, root.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, rootKey.ExportPkcs8PrivateKeyPem());

        await using var server = await TestServer.StartAsync(o => o with { UpstreamAuthority = new UpstreamAuthorityOptions(certPath, keyPath) });
        var bundle = await server.BundleAsync();
        using var agent = await server.AttestAgentAsync();
        var entry = await server.CreateEntryAsync(agent.SpiffeId, "spiffe://example.org/web", "-selector", "unix:uid:1");
        var (channel, client) = await server.AgentClientAsync(agent);
        using var _ = channel;
        var (key, csr) = TestServer.NewCsr();
        using var __ = key;
        var result = (await client.SignX509SvidsAsync(new SignX509SvidsRequest { Params = { new SvidParams { EntryId = entry, Csr = csr } } }).ResponseAsync.Within()).Results.Single();
        using var svid = X509Svid.Parse(result.Svid.CertChain.SelectMany(b => b.ToByteArray()).ToArray(), key.ExportPkcs8PrivateKey());

        Assert.Equal(root.Thumbprint, Assert.Single(bundle.Authorities).Thumbprint);
        Assert.Equal(2, svid.Certificates.Count);
        var intermediate = svid.Certificates[1];
        Assert.True(intermediate.IsCertificateAuthority());
        Assert.Equal(["spiffe://example.org"], intermediate.GetUriSans());
        Assert.Equal(root.SubjectName.RawData, intermediate.IssuerName.RawData);
        svid.Verify(bundle, TimeProvider.System.GetUtcNow());
        Assert.Equal(2, agent.Chain.Count);

        await File.WriteAllTextAsync(Path.Combine(_dir, "leaf.pem"), svid.ExportCertificatesPem(includeIntermediates: false));
        await File.WriteAllTextAsync(Path.Combine(_dir, "intermediate.pem"), TestServer.ToPem([intermediate]));
        var info = new ProcessStartInfo("openssl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "verify", "-CAfile", certPath, "-untrusted", Path.Combine(_dir, "intermediate.pem"), Path.Combine(_dir, "leaf.pem") })
        {
            info.ArgumentList.Add(arg);
        }

        using var openssl = Process.Start(info)!;
        var output = await openssl.StandardOutput.ReadToEndAsync().Within();
        await openssl.WaitForExitAsync().Within();
        Assert.Equal(0, openssl.ExitCode);
        Assert.Contains("leaf.pem: OK", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamAuthority_KeyOfAnotherCertificate_StartupFailsNamingTheKeyFile()
    {
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Upstream Root", rootKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using var root = request.CreateSelfSigned(TimeProvider.System.GetUtcNow().AddMinutes(-5), TimeProvider.System.GetUtcNow().AddDays(30));
        var certPath = Path.Combine(_dir, "upstream.crt");
        var keyPath = Path.Combine(_dir, "other.key");
        await File.WriteAllTextAsync(certPath, root.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, otherKey.ExportPkcs8PrivateKeyPem());

        var error = await Assert.ThrowsAsync<ConfigException>(() => TestServer.StartAsync(o => o with { UpstreamAuthority = new UpstreamAuthorityOptions(certPath, keyPath) }));

        Assert.Contains(error.Errors, e => e.StartsWith("server.upstream_authority.key_file_path:", StringComparison.Ordinal));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
