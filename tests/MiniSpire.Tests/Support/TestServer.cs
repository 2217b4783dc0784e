using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Google.Protobuf;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using MiniSpire.Cli;
using MiniSpire.Config;
using MiniSpire.Proto;
using MiniSpire.Server;
using Spiffe;
using Spiffe.X509;

namespace MiniSpire.Tests.Support;

/// <summary>The output of one CLI invocation.</summary>
internal sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string EntryId => Stdout.Split('\n').First(l => l.StartsWith("Entry ID", StringComparison.Ordinal)).Split(':', 2)[1].Trim();
}

/// <summary>An agent identity: the SVID (with its key) the server issued at attestation.</summary>
internal sealed record TestAgent(string SpiffeId, X509Certificate2 Certificate, IReadOnlyList<X509Certificate2> Chain) : IDisposable
{
    public void Dispose() => Certificate.Dispose();
}

/// <summary>
/// A MiniSpire server hosted in the test process on its real sockets: the agent API on a loopback TCP port
/// with TLS, the admin API on a Unix socket in a fresh temporary directory.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestServer(WebApplication app, ServerOptions options, string root, LogSink logs)
    {
        _app = app;
        Options = options;
        Root = root;
        Logs = logs;
    }

    /// <summary>Everything the server logged (Information and up).</summary>
    public LogSink Logs { get; }

    public ServerOptions Options { get; }

    public string Root { get; }

    public string SocketPath => Options.SocketPath;

    public static async Task<TestServer> StartAsync(Func<ServerOptions, ServerOptions>? configure = null)
    {
        var root = NewTempDirectory();
        var options = new ServerOptions
        {
            TrustDomain = TrustDomain.Parse("example.org"),
            BindAddress = "127.0.0.1",
            BindPort = FreePort(),
            SocketPath = Path.Combine(root, "private", "api.sock"),
            DataDir = Path.Combine(root, "data"),
            LogLevel = LogLevel.Warning,
        };
        options = (configure?.Invoke(options) ?? options) with { LogLevel = LogLevel.Information };
        var logs = new LogSink();
        WebApplication app;
        try
        {
            app = await ServerHost.BuildAsync(options, configureLogging: logging => logging.AddProvider(logs)).Within();
        }
        catch
        {
            Directory.Delete(root, recursive: true);
            throw;
        }

        await app.StartAsync().Within();
        return new TestServer(app, options, root, logs);
    }

    public static string NewTempDirectory()
    {
        var root = Path.Combine(Path.GetTempPath(), "ms-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4)));
        Directory.CreateDirectory(root);
        return root;
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Runs <c>minispire server ARGS -socketPath SOCKET</c> in process.</summary>
    public Task<CliResult> CliAsync(params string[] args) => RunCliAsync(SocketPath, args);

    public static async Task<CliResult> RunCliAsync(string socketPath, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        string[] full = ["server", .. args, "-socketPath", socketPath];
        var exit = await MiniSpireCli.RunAsync(full, stdout, stderr).Within();
        return new CliResult(exit, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Creates an entry through the CLI and returns its ID.</summary>
    public async Task<string> CreateEntryAsync(string parentId, string spiffeId, params string[] more)
    {
        var result = await CliAsync(["entry", "create", "-parentID", parentId, "-spiffeID", spiffeId, .. more]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.EntryId;
    }

    public async Task<string> GenerateTokenAsync(params string[] more)
    {
        var result = await CliAsync(["token", "generate", .. more]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Stdout.Trim()["Token: ".Length..];
    }

    public async Task<X509Bundle> BundleAsync()
    {
        var result = await CliAsync("bundle", "show");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return X509Bundle.ParsePem(Options.TrustDomain, result.Stdout);
    }

    /// <summary>A gRPC client of the agent API, trusting the server's current bundle, optionally with a client certificate.</summary>
    public async Task<(GrpcChannel Channel, MiniSpire.Proto.Agent.AgentClient Client)> AgentClientAsync(X509Certificate2? clientCertificate = null, IReadOnlyList<X509Certificate2>? chain = null)
    {
        var bundle = await BundleAsync();
        return AgentClient(Options.BindPort, bundle, Options.ServerId, clientCertificate, chain);
    }

    public static (GrpcChannel Channel, MiniSpire.Proto.Agent.AgentClient Client) AgentClient(
        int port, X509Bundle bundle, SpiffeId serverId, X509Certificate2? clientCertificate, IReadOnlyList<X509Certificate2>? chain = null)
    {
        var ssl = new SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            RemoteCertificateValidationCallback = (_, certificate, presented, _) =>
            {
                if (certificate is not X509Certificate2 leaf)
                {
                    return false;
                }

                var presentedCertificates = presented?.ChainElements.Select(e => e.Certificate) ?? [];
                return ChainVerification.Verify(leaf, bundle.Authorities, presentedCertificates, DateTimeOffset.UtcNow).Count == 0
                    && leaf.GetUriSans() is [var uri] && uri == serverId.ToString();
            },
        };
        if (clientCertificate is not null)
        {
            ssl.ClientCertificateContext = SslStreamCertificateContext.Create(
                clientCertificate, new X509Certificate2Collection((chain ?? []).Skip(1).ToArray()), offline: true);
        }

        var handler = new SocketsHttpHandler { SslOptions = ssl };
        var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{port}", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        return (channel, new MiniSpire.Proto.Agent.AgentClient(channel));
    }

    /// <summary>A PKCS#10 CSR for a fresh P-256 key.</summary>
    public static (ECDsa Key, ByteString Csr) NewCsr()
    {
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=ignored", key, HashAlgorithmName.SHA256);
        return (key, ByteString.CopyFrom(request.CreateSigningRequest()));
    }

    /// <summary>Attests a new agent with a fresh join token (or <paramref name="token"/>) over the agent API.</summary>
    public async Task<TestAgent> AttestAgentAsync(string? token = null)
    {
        token ??= await GenerateTokenAsync();
        var (channel, client) = await AgentClientAsync();
        using var _ = channel;
        var (key, csr) = NewCsr();
        using (key)
        {
            var response = await client.AttestAgentAsync(new AttestAgentRequest
            {
                Attestation = new AttestationData { Type = "join_token", Payload = ByteString.CopyFromUtf8(token) },
                Csr = csr,
            }).ResponseAsync.Within();
            var chain = response.Svid.CertChain.Select(b => X509CertificateLoader.LoadCertificate(b.Span)).ToList();
            using var leaf = chain[0];
            var withKey = leaf.CopyWithPrivateKey(key);
            return new TestAgent(response.Svid.SpiffeId, withKey, [withKey, .. chain.Skip(1)]);
        }
    }

    public async Task<(GrpcChannel Channel, MiniSpire.Proto.Agent.AgentClient Client)> AgentClientAsync(TestAgent agent) =>
        await AgentClientAsync(agent.Certificate, agent.Chain);

    public static string ToPem(IEnumerable<X509Certificate2> certificates) => Pem.EncodeCertificates(certificates);

    public static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().Within();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temporary directory left behind is harmless.
        }
    }
}
