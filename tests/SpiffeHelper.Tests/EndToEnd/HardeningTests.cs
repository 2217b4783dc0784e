using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Spiffe.Testing;
using Spiffe.WorkloadApi;
using SpiffeHelper.Config;
using SpiffeHelper.Delivery;
using SpiffeHelper.Health;

namespace SpiffeHelper.Tests.EndToEnd;

/// <summary>Bad input the helper must survive in-process, against a real Workload API on a real socket, real files and FIFOs.</summary>
public sealed class HardeningTests : IAsyncLifetime, IDisposable
{
    private readonly TempDir _dir = new();
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org", withIntermediate: true);
    private FakeWorkloadApi _api = null!;

    public async Task InitializeAsync() => _api = await FakeWorkloadApi.StartAsync().WaitAsync(Wait.Default);

    public async Task DisposeAsync() => await _api.DisposeAsync();

    public void Dispose()
    {
        _ca.Dispose();
        _dir.Dispose();
    }

    private static bool Holds(string path, TestSvid svid) =>
        File.Exists(path) && File.ReadAllText(path).StartsWith(Scenario.LeafPem(svid), StringComparison.Ordinal);

    private static string Health(int port) => $"[health_checks]\nlistener_enabled = true\nbind_port = {port}\n";

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative)).WaitAsync(Wait.Default);
        return (response.StatusCode, await response.Content.ReadAsStringAsync().WaitAsync(Wait.Default));
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_PidFileIsAFifo_RotationsContinueAndReadyShowsTheSignalProblemUntilItIsFixed()
    {
        var pidFile = _dir.Combine("app.pid");
        Assert.Equal(0, Posix.Run("mkfifo", pidFile));
        var port = DaemonModeTests.FreePort();
        var first = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(first));
        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + $"renew_signal = \"SIGHUP\"\npid_file_name = \"{pidFile}\"\n" + Health(port));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };

        await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), first), "the first write");
        var second = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(second));
        await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), second), "the rotation after the signal to the FIFO's process was attempted");

        var (status, body) = await GetAsync(http, "/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Contains("not a regular file", body, StringComparison.Ordinal);
        Assert.Contains(pidFile, body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(http, "/live")).Status);
        var (_, metrics) = await GetAsync(http, "/metrics");
        Assert.Contains("spiffe_helper_signal_undelivered{target=\"pid_file\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("spiffe_helper_signal_deliveries_total{target=\"pid_file\",result=\"failed\"}", metrics, StringComparison.Ordinal);

        // The operator fixes the pid file: the retry delivers, readiness comes back.
        var app = new CountingProcess(_dir, "app");
        using var process = app.StartDirectly();
        await Wait.UntilAsync(() => File.Exists(app.PidPath), "the app to write its pid");
        File.Delete(pidFile);
        File.Copy(app.PidPath, pidFile);
        await Wait.UntilAsync(() => app.Hups >= 1, "the app to get SIGHUP on a retry");
        await Wait.UntilAsync(() => GetAsync(http, "/ready").GetAwaiter().GetResult().Status == HttpStatusCode.OK, "/ready once the signal is delivered");
        Assert.Contains("spiffe_helper_signal_undelivered{target=\"pid_file\"} 0", (await GetAsync(http, "/metrics")).Body, StringComparison.Ordinal);
        process.Kill();
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_RefusedUpdates_AreCountedByReasonAndShownInReadyWhileItStays200()
    {
        var port = DaemonModeTests.FreePort();
        var good = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(good));
        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + Health(port));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
        await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), good), "the first write");
        Assert.Contains("spiffe_helper_x509_updates_refused_total{reason=\"expired\"} 0", (await GetAsync(http, "/metrics")).Body, StringComparison.Ordinal);

        using var impostor = TestCertificateAuthority.Create("example.org");
        var forged = impostor.ToProto(impostor.Issue("/web"));
        forged.Bundle = ByteString.CopyFrom(_ca.Root.RawData);
        var otherCa = new Spiffe.WorkloadApi.Proto.X509SVIDResponse();
        otherCa.Svids.Add(forged);
        var cases = new (string Reason, Spiffe.WorkloadApi.Proto.X509SVIDResponse Response)[]
        {
            ("expired", _ca.Response(_ca.Issue("/web", new TestSvidOptions { NotBefore = DateTimeOffset.UtcNow.AddHours(-3), Ttl = TimeSpan.FromHours(1) }))),
            ("not_yet_valid", _ca.Response(_ca.Issue("/web", new TestSvidOptions { NotBefore = DateTimeOffset.UtcNow.AddHours(1) }))),
            ("untrusted_chain", otherCa),
        };

        foreach (var (reason, response) in cases)
        {
            _api.State.SetX509Response(response);
            await Wait.UntilAsync(
                () => GetAsync(http, "/metrics").GetAwaiter().GetResult().Body.Contains($"spiffe_helper_x509_updates_refused_total{{reason=\"{reason}\"}} 1", StringComparison.Ordinal),
                $"the {reason} refusal to be counted");
            var (status, body) = await GetAsync(http, "/ready");
            Assert.Equal(HttpStatusCode.OK, status);
            using var json = JsonDocument.Parse(body);
            var refused = json.RootElement.GetProperty("spiffe_helper").GetProperty("last_refused_update");
            Assert.Equal(reason, refused.GetProperty("reason").GetString());
            Assert.Contains("was not written", refused.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.True(Holds(helper.PathOf("svid.pem"), good), "the valid files stay");
        }

        var next = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(next));
        await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), next), "the next valid update");
        await Wait.UntilAsync(() => !GetAsync(http, "/ready").GetAwaiter().GetResult().Body.Contains("last_refused_update", StringComparison.Ordinal), "the refusal to be superseded by the write");
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_SwitchFromRenameToAtomicDirWithABundlesFolder_ConvertsTheLayoutAndTellsTheApp()
    {
        var svid = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(svid));
        await using (var rename = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + "write_strategy = \"rename\"\ntrust_bundles_dir_name = \"bundles\"\n"))
        {
            await Wait.UntilAsync(() => File.Exists(rename.PathOf("bundles/example.org.pem")), "the rename layout");
            Assert.Equal(0, await rename.StopAsync());
        }

        var child = new CountingProcess(_dir, "child");
        var port = DaemonModeTests.FreePort();
        await using var atomic = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + "write_strategy = \"atomic_dir\"\ntrust_bundles_dir_name = \"bundles\"\n" + child.AsCmd + Health(port));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };

        await Wait.UntilAsync(() => child.Started, "the app to be started after the first atomic_dir write");
        await Wait.UntilAsync(() => GetAsync(http, "/ready").GetAwaiter().GetResult().Status == HttpStatusCode.OK, "/ready after the converted write");
        Assert.Equal(Path.Combine("..data", "bundles"), new FileInfo(atomic.PathOf("bundles")).LinkTarget);
        Assert.Contains(Spiffe.X509.Pem.EncodeCertificates([_ca.Root]), File.ReadAllText(atomic.PathOf("bundles/example.org.pem")), StringComparison.Ordinal);
        Assert.Single(Directory.EnumerateDirectories(atomic.CertDir, "..*"), d => new DirectoryInfo(d).LinkTarget is null);
    }

    [Fact(Timeout = 60_000)]
    public async Task Worker_ManyUpdates_LeaveNoRegistrationPerUpdateOnTheToken()
    {
        var certDir = _dir.Combine("certs");
        var options = Delivery.CredentialFilesTests.Options() with { CertDir = certDir };
        using var client = new WorkloadApiClient(new WorkloadApiClientOptions { Address = WorkloadApiAddress.Parse(_api.Address) }, NullLogger<WorkloadApiClient>.Instance);
        var writes = 0;
        var worker = new X509Worker(options, client, new FileSetWriter(certDir, WriteStrategy.Rename, TimeProvider.System), new HealthState(options.X509!.FileNames, TimeProvider.System), () =>
        {
            Interlocked.Increment(ref writes);
            return Task.CompletedTask;
        }, TimeProvider.System, NullLogger<X509Worker>.Instance);
        using var stop = new CancellationTokenSource();
        Assert.Equal(10, RegistrationProbe.CountAfterRegistering(10));

        _api.State.SetX509Response(_ca.Response(_ca.Issue("/web")));
        var run = worker.RunAsync(once: false, stop.Token);
        await Wait.UntilAsync(() => Volatile.Read(ref writes) == 1, "the first write");
        var baseline = RegistrationProbe.Count(stop);
        for (var n = 2; n <= 40; n++)
        {
            _api.State.SetX509Response(_ca.Response(_ca.Issue("/web")));
            var expected = n;
            await Wait.UntilAsync(() => Volatile.Read(ref writes) == expected, $"write {n}");
        }

        var after = RegistrationProbe.Count(stop);
        Assert.True(after <= baseline + 2, $"{after - baseline} registrations were added to the token by 39 updates");
        await stop.CancelAsync();
        Assert.Equal(WorkerOutcome.Completed, await run.WaitAsync(Wait.Default));
    }

    [Fact(Timeout = 60_000)]
    public async Task Listener_MoreIdleConnectionsThanTheCap_ServesAtMostTheCapAndStillAnswersAFreshRequest()
    {
        var state = new HealthState(["svid.pem"], TimeProvider.System);
        state.Written(DateTimeOffset.UtcNow.AddHours(1));
        await using var server = new HealthServer(HealthOptions.Default with { Enabled = true, BindPort = 0 }, state, NullLogger<HealthServer>.Instance);
        server.Start();
        var idle = new List<TcpClient>();
        try
        {
            for (var i = 0; i < HealthServer.MaxConnections + 8; i++)
            {
                var connection = new TcpClient();
                await connection.ConnectAsync(IPAddress.Loopback, server.Port).WaitAsync(Wait.Default);
                idle.Add(connection);
            }

            await Wait.UntilAsync(() => server.PeakConnections == HealthServer.MaxConnections, "the listener to take up to its cap of idle connections");
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{server.Port}"), Timeout = TimeSpan.FromSeconds(20) };
            var elapsed = Stopwatch.StartNew();
            var (status, _) = await GetAsync(http, "/ready");

            Assert.Equal(HttpStatusCode.OK, status);
            Assert.True(elapsed.Elapsed < HealthServer.RequestTimeout * 2, $"the fresh request took {elapsed.Elapsed}");
            Assert.Equal(HealthServer.MaxConnections, server.PeakConnections);
        }
        finally
        {
            idle.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public void Options_Pkcs12Password_IsNotInAnyToString()
    {
        const string Password = "s3cr3t-Pa55word";
        var config = _dir.Combine("helper.conf");
        File.WriteAllText(config, $"agent_address = \"{_api.Address}\"\ncert_dir = \"{_dir.Combine("certs")}\"\n" + Scenario.X509Outputs + $"pkcs12_keystore_file_name = \"svid.p12\"\npkcs12_password = \"{Password}\"\n");

        var loaded = ConfigLoader.Load(config, _ => null, null, _dir.Path);

        Assert.True(loaded.Succeeded, string.Join("; ", loaded.Errors));
        var pkcs12 = loaded.Options!.X509!.Pkcs12!;
        Assert.Equal(Password, pkcs12.Password);
        Assert.Contains("Password = ***", pkcs12.ToString(), StringComparison.Ordinal);
        Assert.Contains("svid.p12", pkcs12.ToString(), StringComparison.Ordinal);
        foreach (var text in new[] { pkcs12.ToString(), loaded.Options.X509.ToString(), loaded.Options.ToString(), loaded.ToString() })
        {
            Assert.DoesNotContain(Password, text, StringComparison.Ordinal);
        }
    }

    /// <summary>Counts the callbacks registered on a token source, through its private fields (checked against a known count first).</summary>
    private static class RegistrationProbe
    {
        public static int CountAfterRegistering(int n)
        {
            using var source = new CancellationTokenSource();
            var registrations = Enumerable.Range(0, n).Select(_ => source.Token.Register(() => { })).ToList();
            var count = Count(source);
            registrations.ForEach(r => r.Dispose());
            return count;
        }

        public static int Count(CancellationTokenSource source)
        {
            const BindingFlags Flags = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
            var registrations = typeof(CancellationTokenSource).GetField("_registrations", Flags)!.GetValue(source);
            if (registrations is null)
            {
                return 0;
            }

            var node = registrations.GetType().GetField("Callbacks", Flags)!.GetValue(registrations);
            var count = 0;
            while (node is not null)
            {
                count++;
                node = node.GetType().GetField("Next", Flags)!.GetValue(node);
            }

            return count;
        }
    }
}
