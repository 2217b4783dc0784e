using System.Diagnostics;
using System.Globalization;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Grpc.Net.Client;
using MiniSpire.Proto;
using Spiffe.Testing;
using Spiffe.X509;

namespace Bench.Benchmarks;

/// <summary>
/// 4. MiniSpire server issuance: X.509-SVIDs signed per second through the agent API (SignX509Svids: agent
/// authenticated by its TLS client certificate, entry authorized, CSR checked, certificate built and
/// signed), beside <c>openssl speed ecdsap256</c> on the same machine in the same run.
/// </summary>
internal static partial class Issuance
{
    public const double TargetPerSecond = 10_000;

    /// <summary>CSRs per SignX509Svids call, as an agent batches the entries due in one sync.</summary>
    private const int BatchSize = 50;

    /// <summary>Concurrent callers: enough to keep both cores of the server busy.</summary>
    private const int Callers = 4;

    public static async Task RunAsync(BenchContext context, BenchmarkResult result)
    {
        var stack = await context.StackAsync();
        var duration = context.Tiny ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(10);
        using var agent = await BenchAgent.AttestAsync(stack);
        var created = await stack.ServerCliAsync("entry", "create", "-parentID", agent.Id, "-spiffeID", "spiffe://example.org/bench/issued", "-selector", "unix:uid:65534");
        var entryId = created.StandardOutput.Split('\n').FirstOrDefault(l => l.StartsWith("Entry ID", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            ?? throw new InvalidOperationException("entry create failed: " + created);

        // Keys and CSRs are made before the clock starts: the server's work is measured, not the client's.
        var csrDers = Enumerable.Range(0, 64).Select(_ =>
        {
            using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            return new CertificateRequest("CN=bench", key, HashAlgorithmName.SHA256).CreateSigningRequest();
        }).ToArray();
        var csrs = csrDers.Select(ByteString.CopyFrom).ToArray();
        var request = new SignX509SvidsRequest();
        for (var i = 0; i < BatchSize; i++)
        {
            request.Params.Add(new SvidParams { EntryId = entryId, Csr = csrs[i % csrs.Length] });
        }

        // One checked call first: the SVIDs are what an agent would accept.
        var first = await agent.Client.SignX509SvidsAsync(request);
        CheckIssued(first, agent.Bundle);

        // A server runs for months: the first seconds of a fresh process (JIT compiling, tier-up) are not its throughput.
        await LoadAsync(agent, request, context.Tiny ? TimeSpan.FromSeconds(0.5) : TimeSpan.FromSeconds(5));
        var cpuBefore = ProcMemory.CpuSeconds(stack.ServerProcessId);
        var start = Stopwatch.GetTimestamp();
        var issued = await LoadAsync(agent, request, duration);
        var elapsed = Posix.Milliseconds(start, Stopwatch.GetTimestamp()) / 1000;
        var serverCpu = ProcMemory.CpuSeconds(stack.ServerProcessId) - cpuBefore;
        var rate = issued / elapsed;
        result.AddAtLeast("SVIDs signed per second", rate, "SVID/s", TargetPerSecond);
        result.Add("server CPU per SVID", serverCpu / issued * 1e6, "µs");

        var (sign, verify) = await OpenSslSpeedAsync(context.Tiny ? 1 : 3);
        result.Add("openssl ecdsap256 sign, 1 core", sign, "sign/s");
        result.Add("openssl ecdsap256 verify, 1 core", verify, "verify/s");
        var floor = Environment.ProcessorCount / ((1 / sign) + (1 / verify));
        result.Add("openssl bound: nproc / (1/sign + 1/verify)", floor, "SVID/s");
        result.Add("MiniSpire / openssl bound", rate / floor, "ratio");
        result.Add("MiniSpire / openssl sign on all cores", rate / (sign * Environment.ProcessorCount), "ratio");

        // What the bound above leaves out: decoding each CSR's public key, through .NET as MiniSpire must.
        var dotnetFloor = IssuanceCryptoFloor.Measure(csrDers, context.Tiny ? TimeSpan.FromSeconds(0.4) : TimeSpan.FromSeconds(4));
        result.Add(".NET: import the CSR's public key, 1 thread", dotnetFloor.ImportMicroseconds, "µs CPU");
        result.Add(".NET: verify the CSR's signature, 1 thread", dotnetFloor.VerifyMicroseconds, "µs CPU");
        result.Add(".NET: sign the certificate, 1 thread", dotnetFloor.SignMicroseconds, "µs CPU");
        result.Add(".NET crypto bound: import + verify + sign on all cores", dotnetFloor.AllCoresPerSecond, "SVID/s");
        result.Add("MiniSpire / .NET crypto bound", rate / dotnetFloor.AllCoresPerSecond, "ratio");

        // The same three steps in C against OpenSSL directly, when run.sh could build the program.
        var openSslIssuance = Path.Combine(Path.GetDirectoryName(context.Options.Reference)!, "bench-openssl-issuance");
        if (File.Exists(openSslIssuance))
        {
            var inC = await OpenSslIssuanceAsync(openSslIssuance, context.Tiny ? 0.4 : 4);
            result.Add("OpenSSL in C: decode the CSR and its key, 1 thread", inC["decode_us"], "µs CPU");
            result.Add("OpenSSL in C: verify the CSR, 1 thread", inC["verify_us"], "µs CPU");
            result.Add("OpenSSL in C: sign the certificate, 1 thread", inC["sign_us"], "µs CPU");
            result.Add("OpenSSL C bound: decode + verify + sign on all cores", inC["svids_per_second"], "SVID/s");
            result.Notes.Add("The 'OpenSSL in C' rows are bench/Reference/openssl-issuance.c: d2i_X509_REQ (which decodes the public key through OpenSSL 3's provider decoders), X509_REQ_verify, EVP_DigestSign of a 450-byte TBS with the CA key; each alone on one thread, then per SVID on every core.");
        }
        else
        {
            result.Notes.Add("bench-openssl-issuance was not built (no C compiler or no OpenSSL headers: libssl-dev), so the OpenSSL-in-C rows are missing.");
        }

        result.Notes.Add($"{issued} SVIDs in {elapsed:0.0} s, after an unmeasured warm-up of the same load: {Callers} concurrent callers, each calling SignX509Svids with {BatchSize} CSRs per call over one mutual-TLS HTTP/2 connection, as an agent attested with a join token (the bench attests as a second agent and holds an entry parented to it). The callers run in the bench process on the same {Environment.ProcessorCount} cores as the server.");
        result.Notes.Add($"The server spent {serverCpu:0.00} CPU-seconds (from /proc/PID/stat) on them: {serverCpu / elapsed:0.00} of the {Environment.ProcessorCount} cores. Each SVID needs at least one ECDSA P-256 signature verification (the CSR's proof of possession) and one signature (the certificate); openssl's figures for those on one core bound what {Environment.ProcessorCount} cores can do: the 'openssl bound' row.");
        result.Notes.Add("The 'openssl bound' leaves out that the CSR's public key must first be decoded into a key OpenSSL can verify with. The '.NET' rows measure the three calls MiniSpire cannot avoid, alone, through System.Security.Cryptography (OpenSSL 3 underneath) in the bench process: ImportSubjectPublicKeyInfo, VerifyData, SignData of a 450-byte TBS; then the three per SVID on every core (one CA key, signatures serialised as in the server). No server can issue faster than the '.NET crypto bound' row on these cores with this OpenSSL.");
    }

    /// <summary>Keeps <see cref="Callers"/> calls in flight for <paramref name="duration"/>; returns the SVIDs issued.</summary>
    private static async Task<long> LoadAsync(BenchAgent agent, SignX509SvidsRequest request, TimeSpan duration)
    {
        long issued = 0;
        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, Callers).Select(async _ =>
        {
            while (Stopwatch.GetTimestamp() < end)
            {
                var response = await agent.Client.SignX509SvidsAsync(request);
                Interlocked.Add(ref issued, response.Results.Count(r => r.StatusCode == 0));
            }
        }));
        return issued;
    }

    private static void CheckIssued(SignX509SvidsResponse response, IReadOnlyList<X509Certificate2> bundle)
    {
        foreach (var item in response.Results)
        {
            if (item.StatusCode != 0)
            {
                throw new InvalidOperationException($"SignX509Svids refused entry {item.EntryId}: {item.StatusCode} {item.StatusMessage}");
            }

            var chain = item.Svid.CertChain.Select(c => X509CertificateLoader.LoadCertificate(c.Span)).ToList();
            var problems = ChainVerification.Verify(chain[0], bundle, chain.Skip(1), DateTimeOffset.UtcNow);
            if (problems.Count > 0 || chain[0].GetUriSans() is not ["spiffe://example.org/bench/issued"])
            {
                throw new InvalidOperationException("an issued SVID does not verify: " + string.Join("; ", problems));
            }
        }
    }

    private static async Task<IReadOnlyDictionary<string, double>> OpenSslIssuanceAsync(string program, double seconds)
    {
        var run = await ProcessRunner.RunAsync(
            program, [seconds.ToString(CultureInfo.InvariantCulture), Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture)], TimeSpan.FromMinutes(1));
        var figures = run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .Where(pair => pair.Length == 2)
            .ToDictionary(pair => pair[0], pair => double.Parse(pair[1], CultureInfo.InvariantCulture), StringComparer.Ordinal);
        string[] expected = ["decode_us", "verify_us", "sign_us", "svids_per_second"];
        if (run.ExitCode != 0 || expected.Any(key => !figures.ContainsKey(key)))
        {
            throw new InvalidOperationException("bench-openssl-issuance did not report its figures: " + run);
        }

        return figures;
    }

    private static async Task<(double Sign, double Verify)> OpenSslSpeedAsync(int seconds)
    {
        var run = await ProcessRunner.RunAsync("openssl", ["speed", "-seconds", seconds.ToString(CultureInfo.InvariantCulture), "ecdsap256"], TimeSpan.FromMinutes(2));
        var match = SpeedLine().Match(run.StandardOutput);
        if (run.ExitCode != 0 || !match.Success)
        {
            throw new InvalidOperationException("openssl speed ecdsap256 did not report sign/s and verify/s: " + run);
        }

        return (double.Parse(match.Groups["sign"].Value, CultureInfo.InvariantCulture), double.Parse(match.Groups["verify"].Value, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+(?<sign>[0-9.]+)\s+(?<verify>[0-9.]+)")]
    private static partial Regex SpeedLine();
}

/// <summary>The bench as a MiniSpire agent: attested with a join token, calling the agent API with its SVID.</summary>
internal sealed class BenchAgent : IDisposable
{
    private readonly GrpcChannel _channel;

    private BenchAgent(GrpcChannel channel, string id, IReadOnlyList<X509Certificate2> bundle)
    {
        _channel = channel;
        Client = new Agent.AgentClient(channel);
        Id = id;
        Bundle = bundle;
    }

    public Agent.AgentClient Client { get; }

    public string Id { get; }

    public IReadOnlyList<X509Certificate2> Bundle { get; }

    public static async Task<BenchAgent> AttestAsync(LocalMiniSpire stack)
    {
        var token = (await stack.ServerCliAsync("token", "generate")).StandardOutput.Trim()["Token: ".Length..];
        var bundlePem = (await stack.ServerCliAsync("bundle", "show")).StandardOutput;
        var bundle = new X509Certificate2Collection();
        bundle.ImportFromPem(bundlePem);
        var trusted = bundle.ToList();

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var csr = new CertificateRequest("CN=bench-agent", key, HashAlgorithmName.SHA256).CreateSigningRequest();
        using (var attestChannel = Channel(stack.ServerPort, trusted, clientCertificate: null))
        {
            var attested = await new Agent.AgentClient(attestChannel).AttestAgentAsync(new AttestAgentRequest
            {
                Attestation = new AttestationData { Type = "join_token", Payload = ByteString.CopyFrom(token, Encoding.UTF8) },
                Csr = ByteString.CopyFrom(csr),
            });
            using var leaf = X509CertificateLoader.LoadCertificate(attested.Svid.CertChain[0].Span);
            using var withKey = leaf.CopyWithPrivateKey(key);
            var clientCertificate = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
            return new BenchAgent(Channel(stack.ServerPort, trusted, clientCertificate), attested.Svid.SpiffeId, trusted);
        }
    }

    public void Dispose() => _channel.Dispose();

    private static GrpcChannel Channel(int port, IReadOnlyList<X509Certificate2> trusted, X509Certificate2? clientCertificate)
    {
        var ssl = new SslClientAuthenticationOptions
        {
            TargetHost = "127.0.0.1",
            RemoteCertificateValidationCallback = (_, certificate, presented, _) =>
                certificate is X509Certificate2 leaf
                && leaf.GetUriSans() is ["spiffe://example.org/spire/server"]
                && ChainVerification.Verify(leaf, trusted, presented?.ChainElements.Select(e => e.Certificate) ?? [], DateTimeOffset.UtcNow).Count == 0,
        };
        if (clientCertificate is not null)
        {
            ssl.ClientCertificateContext = SslStreamCertificateContext.Create(clientCertificate, null, offline: true);
        }

        return GrpcChannel.ForAddress($"https://127.0.0.1:{port}", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { SslOptions = ssl },
            DisposeHttpClient = true,
        });
    }
}
