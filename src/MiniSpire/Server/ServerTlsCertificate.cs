using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MiniSpire.Config;
using MiniSpire.Server.Ca;

namespace MiniSpire.Server;

/// <summary>
/// The server's own TLS certificate for the agent API: an X509-SVID for <c>spiffe://&lt;td&gt;/spire/server</c>
/// from the active CA, reissued at half life or as soon as another CA becomes active.
/// </summary>
internal sealed class ServerTlsCertificate
{
    private readonly ServerOptions _options;
    private readonly ServerCa _ca;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private Current? _current;

    public ServerTlsCertificate(ServerOptions options, ServerCa ca, TimeProvider time)
    {
        _options = options;
        _ca = ca;
        _time = time;
    }

    public SslStreamCertificateContext GetContext()
    {
        lock (_lock)
        {
            var now = _time.GetUtcNow();
            var active = _ca.Snapshot.ActiveX509;
            if (_current is { } current && current.CaId == active.Id && now < current.RenewAt)
            {
                return current.Context;
            }

            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var request = new CertificateRequest("CN=unused", key, HashAlgorithmName.SHA256);
            var svid = _ca.SignX509Svid(request.PublicKey, _options.ServerId, [], _options.DefaultX509SvidTtl);
            using var leaf = X509CertificateLoader.LoadCertificate(svid.CertificateDer);
            using var withKey = leaf.CopyWithPrivateKey(key);
            // Round-trip through PKCS#12 so the key is not ephemeral (SslStream needs a persisted handle on some platforms).
            var certificate = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
            var context = SslStreamCertificateContext.Create(certificate, new X509Certificate2Collection(svid.Intermediates.ToArray()), offline: true);
            var lifetime = svid.NotAfter - now;
            _current = new Current(active.Id, context, now + lifetime / 2);
            return context;
        }
    }

    private sealed record Current(string CaId, SslStreamCertificateContext Context, DateTimeOffset RenewAt);
}
