using System.Diagnostics;
using EndToEnd.Tests.Support;
using Spiffe.Testing;
using Xunit.Abstractions;

namespace EndToEnd.Tests;

/// <summary>
/// nginx (the Debian package) serving mutual TLS with the files of a rotating spiffe-helper, reloaded by
/// the helper's <c>renew_signal = "SIGHUP"</c> through nginx's pid file; curl calls it with the SVID of a
/// second workload (a second helper running as user nobody) while the server's SVID rotates.
/// </summary>
/// <remarks>
/// SPIFFE peers verify the chain against the bundle and then the URI SAN; neither curl nor openssl can
/// check a URI SAN. So the server entry carries a DNS SAN too (<c>-dns nginx.example.org</c>), and curl
/// verifies everything it can (chain against the client's bundle, host name through <c>--resolve</c>) with no
/// <c>--insecure</c>; the URI SAN of each served certificate is checked from <c>openssl s_client</c>'s output.
/// </remarks>
public sealed class NginxMutualTlsTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string ServerId = "spiffe://example.org/nginx";
    private const string ClientId = "spiffe://example.org/curl-client";
    private const string HostName = "nginx.example.org";
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private LocalMiniSpire _stack = null!;

    public async Task InitializeAsync() => _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task ThreeRotations_NginxServesEachNewSvid_AndAMutualTlsRequestLoopNeverFails()
    {
        // The server's SVID: 20 s TTL, so the agent rotates it every few seconds. The client's keeps the
        // default TTL: curl reads its cert and key as two separate files, so it must not rotate under curl.
        await _stack.CreateEntryAsync(ServerId, "-selector", $"unix:uid:{Identity.Uid()}", "-dns", HostName, "-x509SVIDTTL", "20");
        await _stack.CreateEntryAsync(ClientId, "-selector", "unix:user:nobody");

        var nginxDir = Directory.CreateDirectory(Path.Combine(_stack.Root, "nginx")).FullName;
        var serverCerts = Path.Combine(_stack.Root, "server-certs");
        var clientHome = Directory.CreateDirectory(Path.Combine(_stack.Root, "client")).FullName;
        var clientCerts = Directory.CreateDirectory(Path.Combine(clientHome, "certs")).FullName;
        Identity.GiveTo(clientCerts, "nobody");
        var pidFile = Path.Combine(nginxDir, "nginx.pid");

        await using var serverHelper = await HelperRun.StartAsync(_stack.Root, _stack.AgentSocket, serverCerts, $"""
            renew_signal = "SIGHUP"
            pid_file_name = "{pidFile}"
            """);
        await using var clientHelper = await HelperRun.StartAsync(clientHome, _stack.AgentSocket, clientCerts, user: "nobody");
        await Eventually.HoldsAsync(
            async () => await Openssl.FactsAsync(Path.Combine(serverCerts, "svid.pem")) is not null && await Openssl.FactsAsync(Path.Combine(clientCerts, "svid.pem")) is not null,
            Timeout,
            () => $"server helper:\n{serverHelper.Output}\nclient helper:\n{clientHelper.Output}");
        await Openssl.AssertChainAndKeyAsync(clientCerts, ClientId);

        var port = HelperRun.FreePort();
        await using var nginx = await Nginx.StartAsync(nginxDir, port, serverCerts, pidFile);
        var clientCert = Path.Combine(clientCerts, "svid.pem");
        var clientKey = Path.Combine(clientCerts, "svid_key.pem");
        var clientBundle = Path.Combine(clientCerts, "bundle.pem");
        var expectedClientSerial = (await Openssl.FactsAsync(clientCert))!.Serial;

        using var stopLoop = new CancellationTokenSource();
        var loop = RequestLoopAsync(port, clientCert, clientKey, clientBundle, stopLoop.Token);

        var served = new List<CertificateFacts>();
        try
        {
            var deadline = DateTime.UtcNow + Timeout;
            while (served.Count < 4)
            {
                Assert.True(DateTime.UtcNow < deadline, $"nginx served {served.Count} certificate(s) in {Timeout}\nhelper:\n{serverHelper.Output}\nnginx:\n{nginx.ErrorLog}");
                Assert.False(serverHelper.HasExited, "the server's helper exited:\n" + serverHelper.Output);
                var now = await Openssl.ServedAsync(port, clientBundle, clientCert, clientKey);
                if (now is not null && (served.Count == 0 || served[^1].Serial != now.Serial))
                {
                    served.Add(now);
                }

                await Task.Delay(250);
            }
        }
        finally
        {
            await stopLoop.CancelAsync();
        }

        var requests = await loop;
        output.WriteLine($"{requests.Total} requests, {requests.Failures.Count} failed; served serials: {string.Join(", ", served.Select(c => c.Serial))}");

        // Four certificates: the first and three rotations, each with its own serial and expiry.
        Assert.Equal(4, served.Select(c => c.Serial).Distinct().Count());
        Assert.Equal(4, served.Select(c => c.NotAfter).Distinct().Count());
        Assert.All(served, c => Assert.Contains("URI:" + ServerId, c.SubjectAltName, StringComparison.Ordinal));
        Assert.All(served, c => Assert.Contains("DNS:" + HostName, c.SubjectAltName, StringComparison.Ordinal));
        Assert.True(requests.Failures.Count == 0, $"{requests.Failures.Count} of {requests.Total} requests failed; first: {requests.Failures.FirstOrDefault()}");
        Assert.True(requests.Total >= 20, $"only {requests.Total} requests ran");

        // nginx verified the client's certificate against the bundle, and it was the second workload's SVID.
        Assert.All(requests.Bodies, b => Assert.Equal($"SUCCESS {expectedClientSerial}", b));
        Assert.Contains("Sent SIGHUP", serverHelper.Output, StringComparison.Ordinal);
    }

    private sealed record LoopResult(int Total, List<string> Failures, HashSet<string> Bodies);

    /// <summary>curl every ~150 ms until stopped; every request must succeed.</summary>
    private static async Task<LoopResult> RequestLoopAsync(int port, string cert, string key, string caFile, CancellationToken stop)
    {
        var failures = new List<string>();
        var bodies = new HashSet<string>(StringComparer.Ordinal);
        var total = 0;
        while (!stop.IsCancellationRequested)
        {
            var result = await ProcessRunner.RunAsync(
                "curl",
                ["--silent", "--show-error", "--fail", "--max-time", "5", "--cert", cert, "--key", key, "--cacert", caFile,
                    "--resolve", $"{HostName}:{port}:127.0.0.1", $"https://{HostName}:{port}/"],
                TimeSpan.FromSeconds(10));
            total++;
            if (result.ExitCode != 0)
            {
                failures.Add($"{DateTime.UtcNow:O} {result}");
            }
            else
            {
                bodies.Add(result.StandardOutput.Trim());
            }

            try
            {
                await Task.Delay(150, stop);
            }
            catch (OperationCanceledException)
            {
            }
        }

        return new LoopResult(total, failures, bodies);
    }

    /// <summary>nginx in the foreground with its own prefix, config, pid file and logs in a temporary directory.</summary>
    private sealed class Nginx : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly string _directory;

        private Nginx(Process process, string directory)
        {
            _process = process;
            _directory = directory;
        }

        public string ErrorLog => File.Exists(Path.Combine(_directory, "error.log")) ? File.ReadAllText(Path.Combine(_directory, "error.log")) : "(no error.log)";

        public static async Task<Nginx> StartAsync(string directory, int port, string certs, string pidFile)
        {
            var config = Path.Combine(directory, "nginx.conf");
            await File.WriteAllTextAsync(config, $$"""
                daemon off;
                worker_processes 1;
                pid {{pidFile}};
                error_log {{directory}}/error.log info;
                events { worker_connections 64; }
                http {
                    access_log {{directory}}/access.log;
                    client_body_temp_path {{directory}}/client_body;
                    proxy_temp_path {{directory}}/proxy;
                    fastcgi_temp_path {{directory}}/fastcgi;
                    uwsgi_temp_path {{directory}}/uwsgi;
                    scgi_temp_path {{directory}}/scgi;
                    server {
                        listen 127.0.0.1:{{port}} ssl;
                        server_name {{HostName}};
                        ssl_certificate {{certs}}/svid.pem;
                        ssl_certificate_key {{certs}}/svid_key.pem;
                        ssl_client_certificate {{certs}}/bundle.pem;
                        ssl_verify_client on;
                        ssl_verify_depth 2;
                        location / {
                            default_type text/plain;
                            return 200 "$ssl_client_verify $ssl_client_serial\n";
                        }
                    }
                }
                """);
            var info = new ProcessStartInfo(NginxBinary()) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "-p", directory, "-e", Path.Combine(directory, "error.log"), "-c", config })
            {
                info.ArgumentList.Add(argument);
            }

            var process = Process.Start(info) ?? throw new InvalidOperationException("nginx did not start");
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var nginx = new Nginx(process, directory);
            await Eventually.HoldsAsync(
                () => Task.FromResult(process.HasExited || File.Exists(pidFile)),
                TimeSpan.FromSeconds(30),
                () => nginx.ErrorLog);
            Assert.False(process.HasExited, "nginx exited:\n" + nginx.ErrorLog);
            return nginx;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }

            _process.Dispose();
        }

        private static string NginxBinary() =>
            File.Exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx";
    }
}
