using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using MiniSpire.Agent.Rotation;
using MiniSpire.Agent.ServerApi;
using MiniSpire.Config;
using MiniSpire.Proto;
using Spiffe.X509;
using AgentApiClient = MiniSpire.Proto.Agent.AgentClient;

namespace MiniSpire.Agent.Node;

/// <summary>The agent can no longer act for its node: it must be attested again.</summary>
internal sealed class AgentNodeException : Exception
{
    public AgentNodeException(string message)
        : base(message)
    {
    }

    public AgentNodeException()
    {
    }

    public AgentNodeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// The agent's own identity: attested once with a join token, kept in the data directory, renewed at half
/// life, and used as the TLS client certificate of every other call to the server.
/// </summary>
internal sealed partial class AgentNode(AgentOptions options, AgentCredentialStore store, ServerConnection server, TimeProvider time, ILogger<AgentNode> logger)
{
    private readonly double _jitter = RotationPolicy.NextJitter(Random.Shared);
    private AgentCredentials? _credentials;
    private X509Certificate2? _clientCertificate;
    private IReadOnlyList<X509Certificate2>? _trusted;

    public AgentCredentials Credentials => _credentials ?? throw new InvalidOperationException("the agent has not attested");

    /// <summary>A client of the server authenticated with the agent SVID.</summary>
    public AgentApiClient Client => server.Client(_trusted, _clientCertificate);

    /// <summary>
    /// Loads the stored agent SVID, or attests with the join token when there is none (or it has expired).
    /// </summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        _trusted = store.LoadBundle() ?? LoadBootstrapBundle();
        var stored = store.LoadCredentials();
        if (stored is not null && stored.NotAfter > time.GetUtcNow())
        {
            Use(stored);
            LogResumed(logger, stored.Id, stored.NotAfter);
            return;
        }

        if (options.JoinToken is null)
        {
            throw new AgentNodeException(stored is null
                ? "the agent has no stored SVID and no join token: generate one with `minispire server token generate` and pass it with -joinToken"
                : $"the stored agent SVID expired at {stored.NotAfter:O} and no join token is configured: the agent must be attested again");
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        AttestAgentResponse response;
        try
        {
            response = await server.Client(_trusted, null).AttestAgentAsync(new AttestAgentRequest
            {
                Attestation = new AttestationData { Type = "join_token", Payload = ByteString.CopyFromUtf8(options.JoinToken) },
                Csr = ByteString.CopyFrom(CreateCsr(key)),
            }, cancellationToken: cancellationToken);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.PermissionDenied or StatusCode.InvalidArgument or StatusCode.Unauthenticated)
        {
            throw new AgentNodeException($"the server refused node attestation: {e.Status.Detail}", e);
        }

        var credentials = new AgentCredentials(ToCertificates(response.Svid.CertChain), key.ExportPkcs8PrivateKey());
        store.SaveCredentials(credentials);
        UpdateTrustedBundle(response.Bundle);
        Use(credentials);
        LogAttested(logger, credentials.Id, credentials.NotAfter);
    }

    /// <summary>Renews the agent SVID once half its life has passed (jittered).</summary>
    public async Task RenewIfDueAsync(CancellationToken cancellationToken)
    {
        var current = Credentials;
        var now = time.GetUtcNow();
        if (now >= current.NotAfter)
        {
            throw new AgentNodeException($"the agent SVID expired at {current.NotAfter:O} before it could be renewed: the agent must be attested again with a new join token");
        }

        if (!RotationPolicy.ShouldRotate(current.NotBefore, current.NotAfter, now, _jitter))
        {
            return;
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var response = await Client.RenewAgentAsync(new RenewAgentRequest { Csr = ByteString.CopyFrom(CreateCsr(key)) }, cancellationToken: cancellationToken);
        var renewed = new AgentCredentials(ToCertificates(response.Svid.CertChain), key.ExportPkcs8PrivateKey());
        store.SaveCredentials(renewed);
        Use(renewed);
        LogRenewed(logger, renewed.Id, renewed.NotAfter);
    }

    /// <summary>Trusts the server's newest bundle from now on, and keeps it for the next start.</summary>
    public void UpdateTrustedBundle(Bundle bundle)
    {
        var authorities = ToCertificates(bundle.X509Authorities);
        if (authorities.Count == 0)
        {
            return;
        }

        store.SaveBundle(authorities);
        _trusted = authorities;
    }

    private IReadOnlyList<X509Certificate2>? LoadBootstrapBundle()
    {
        if (options.TrustBundlePath is { } path)
        {
            return Pem.DecodeCertificates(File.ReadAllText(path));
        }

        if (options.InsecureBootstrap)
        {
            LogInsecureBootstrap(logger);
            return null;
        }

        throw new AgentNodeException("no trust bundle: set agent.trust_bundle_path to the server's bundle (or agent.insecure_bootstrap = true for development)");
    }

    private void Use(AgentCredentials credentials)
    {
        _credentials = credentials;
        _clientCertificate = credentials.LeafWithKey();
    }

    private static byte[] CreateCsr(ECDsa key) =>
        new CertificateRequest("CN=minispire-agent", key, HashAlgorithmName.SHA256).CreateSigningRequest();

    private static List<X509Certificate2> ToCertificates(IEnumerable<ByteString> der) =>
        [.. der.Select(b => X509CertificateLoader.LoadCertificate(b.Span))];

    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Node attested as {AgentId}; agent SVID valid until {NotAfter:O}.")]
    private static partial void LogAttested(ILogger logger, Spiffe.SpiffeId agentId, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Resumed as {AgentId} with the stored agent SVID, valid until {NotAfter:O}.")]
    private static partial void LogResumed(ILogger logger, Spiffe.SpiffeId agentId, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "Renewed the agent SVID of {AgentId}; valid until {NotAfter:O}.")]
    private static partial void LogRenewed(ILogger logger, Spiffe.SpiffeId agentId, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 303, Level = LogLevel.Warning, Message = "insecure_bootstrap is on: the server is trusted without a bootstrap bundle on first attestation.")]
    private static partial void LogInsecureBootstrap(ILogger logger);
}
