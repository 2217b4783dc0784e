using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using MiniSpire.Config;
using MiniSpire.Server.Ca;
using MiniSpire.Server.Datastore;
using MiniSpire.Tests.Support;
using Spiffe;

namespace MiniSpire.Tests.Server;

public sealed class ServerCaTests : IDisposable
{
    private readonly string _dir = TestServer.NewTempDirectory();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly ServerOptions _options;

    public ServerCaTests()
    {
        _options = new ServerOptions
        {
            TrustDomain = TrustDomain.Parse("example.org"),
            DataDir = _dir,
            CaTtl = TimeSpan.FromHours(6),
        };
    }

    [Fact]
    public async Task RotateAsync_ThroughTwoLifetimes_PublishesNextCaBeforeSigningWithIt()
    {
        var store = SqliteDataStore.Open(_dir);
        using var ca = new ServerCa(_options, store, _time, NullLogger<ServerCa>.Instance);
        await ca.InitializeAsync(CancellationToken.None).Within();
        var first = ca.Snapshot.ActiveX509;
        var firstJwt = ca.Snapshot.ActiveJwt;
        Assert.Single(ca.Snapshot.BundleX509(_time.GetUtcNow()));
        var life = first.Validity.Lifetime; // 6 h plus the 10 s backdating

        _time.Advance(life / 2 + TimeSpan.FromMinutes(1));
        await ca.RotateAsync(CancellationToken.None).Within();
        Assert.Equal(2, ca.Snapshot.BundleX509(_time.GetUtcNow()).Count);
        Assert.Equal(2, ca.Snapshot.BundleJwt(_time.GetUtcNow()).Count);
        Assert.Equal(first.Id, ca.Snapshot.ActiveX509.Id);
        Assert.Equal(firstJwt.KeyId, ca.Snapshot.ActiveJwt.KeyId);
        Assert.Equal(first.Id, IssuerOfNewSvid(ca));

        _time.Advance(life / 3); // now past five sixths
        await ca.RotateAsync(CancellationToken.None).Within();
        var second = ca.Snapshot.ActiveX509;
        Assert.NotEqual(first.Id, second.Id);
        Assert.NotEqual(firstJwt.KeyId, ca.Snapshot.ActiveJwt.KeyId);
        Assert.Equal(second.Id, IssuerOfNewSvid(ca));
        Assert.Equal(2, ca.Snapshot.BundleX509(_time.GetUtcNow()).Count);

        _time.Advance(life / 6); // the first CA has expired: pruned
        await ca.RotateAsync(CancellationToken.None).Within();
        var bundle = ca.Snapshot.BundleX509(_time.GetUtcNow());
        Assert.DoesNotContain(bundle, c => c.Thumbprint == first.Certificate.Thumbprint);
        Assert.Contains(bundle, c => c.Thumbprint == second.Certificate.Thumbprint);
        Assert.DoesNotContain(ca.Snapshot.X509Authorities, a => a.Id == first.Id);
    }

    [Fact]
    public async Task InitializeAsync_SecondStart_KeepsTheSameCa()
    {
        string firstId;
        using (var ca = new ServerCa(_options, SqliteDataStore.Open(_dir), _time, NullLogger<ServerCa>.Instance))
        {
            await ca.InitializeAsync(CancellationToken.None).Within();
            firstId = ca.Snapshot.ActiveX509.Id;
        }

        _time.Advance(TimeSpan.FromMinutes(5));
        using var again = new ServerCa(_options, SqliteDataStore.Open(_dir), _time, NullLogger<ServerCa>.Instance);
        await again.InitializeAsync(CancellationToken.None).Within();

        Assert.Equal(firstId, again.Snapshot.ActiveX509.Id);
        Assert.Single(again.Snapshot.X509Authorities);
    }

    [Fact]
    public async Task SignX509Svid_NearCaExpiry_CapsNotAfterAtCa()
    {
        using var ca = new ServerCa(_options with { DefaultX509SvidTtl = TimeSpan.FromHours(1) }, SqliteDataStore.Open(_dir), _time, NullLogger<ServerCa>.Instance);
        await ca.InitializeAsync(CancellationToken.None).Within();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var svid = ca.SignX509Svid(new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256).PublicKey, SpiffeId.Parse("spiffe://example.org/w"), [], TimeSpan.FromDays(2));

        using var leaf = X509CertificateLoader.LoadCertificate(svid.CertificateDer);
        Assert.Equal(ca.Snapshot.ActiveX509.Certificate.NotAfter, leaf.NotAfter);
    }

    private static string IssuerOfNewSvid(ServerCa ca)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var svid = ca.SignX509Svid(new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256).PublicKey, SpiffeId.Parse("spiffe://example.org/w"), [], TimeSpan.FromMinutes(5));
        using var leaf = X509CertificateLoader.LoadCertificate(svid.CertificateDer);
        var aki = leaf.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().Single().KeyIdentifier!.Value.ToArray();
        return ca.Snapshot.X509Authorities.Single(a =>
            a.Certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifierBytes.Span.SequenceEqual(aki)).Id;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
