using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using Spiffe;
using Spiffe.X509;
using AgentApiClient = MiniSpire.Proto.Agent.AgentClient;

namespace MiniSpire.Agent.ServerApi;

/// <summary>
/// The agent's TLS connection to the server's agent API. The server must present a certificate that chains
/// to the trusted bundle and names the server's SPIFFE ID; the agent presents its own SVID once it has one.
/// The channel is rebuilt whenever the agent SVID or the bundle changes.
/// </summary>
internal sealed class ServerConnection(string address, int port, SpiffeId serverId) : IDisposable
{
    private readonly Lock _lock = new();
    private GrpcChannel? _channel;
    private AgentApiClient? _client;
    private X509Certificate2? _clientCertificate;
    private IReadOnlyList<X509Certificate2>? _trusted;

    /// <summary>
    /// A client that trusts <paramref name="trusted"/> (null: any server, for insecure bootstrap) and presents
    /// <paramref name="clientCertificate"/> (null: none, for attestation).
    /// </summary>
    public AgentApiClient Client(IReadOnlyList<X509Certificate2>? trusted, X509Certificate2? clientCertificate)
    {
        lock (_lock)
        {
            if (_client is not null && ReferenceEquals(trusted, _trusted) && ReferenceEquals(clientCertificate, _clientCertificate))
            {
                return _client;
            }

            _channel?.Dispose();
            var ssl = new SslClientAuthenticationOptions
            {
                TargetHost = address,
                RemoteCertificateValidationCallback = (_, certificate, presented, _) =>
                    certificate is X509Certificate2 leaf && IsTheServer(leaf, presented, trusted),
            };
            if (clientCertificate is not null)
            {
                ssl.ClientCertificateContext = SslStreamCertificateContext.Create(clientCertificate, null, offline: true);
            }

            _channel = GrpcChannel.ForAddress($"https://{address}:{port}", new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler { SslOptions = ssl, ConnectTimeout = TimeSpan.FromSeconds(10) },
                DisposeHttpClient = true,
            });
            _client = new AgentApiClient(_channel);
            _trusted = trusted;
            _clientCertificate = clientCertificate;
            return _client;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _channel?.Dispose();
        }
    }

    private bool IsTheServer(X509Certificate2 leaf, X509Chain? presented, IReadOnlyList<X509Certificate2>? trusted)
    {
        if (leaf.GetUriSans() is not [var uri] || uri != serverId.ToString())
        {
            return false;
        }

        if (trusted is null)
        {
            return true;
        }

        var presentedCertificates = presented?.ChainElements.Select(e => e.Certificate) ?? [];
        return ChainVerification.Verify(leaf, trusted, presentedCertificates, TimeProvider.System.GetUtcNow()).Count == 0;
    }
}
