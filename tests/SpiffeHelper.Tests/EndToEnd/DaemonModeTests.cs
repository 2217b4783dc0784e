using System.Net;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using Spiffe.Testing;

namespace SpiffeHelper.Tests.EndToEnd;

public sealed class DaemonModeTests : IAsyncLifetime, IDisposable
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

    [Fact(Timeout = 60_000)]
    public async Task Run_Rotations_RewriteTheFilesAndSignalTheChildAndThePidFileProcess()
    {
        var child = new CountingProcess(_dir, "child");
        var other = new CountingProcess(_dir, "other");
        using var otherProcess = other.StartDirectly();
        await Wait.UntilAsync(() => File.Exists(other.PidPath), "the pid-file process to start");
        var first = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(first));

        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + child.AsCmd + $"renew_signal = \"SIGHUP\"\npid_file_name = \"{other.PidPath}\"\n");

        await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), first) && child.Started, "the first write and the child to start");
        await Wait.UntilAsync(() => other.Hups == 1, "the pid-file process to be signalled after the first write");
        Assert.Equal(0, child.Hups);
        Assert.True(Scenario.PairMatches(helper.PathOf("svid.pem"), helper.PathOf("svid_key.pem"), out var problem), problem);

        var second = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(second));
        await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), second), "the rotated SVID on disk");
        await Wait.UntilAsync(() => child.Hups == 1 && other.Hups == 2, "both processes to get SIGHUP after the rotation");
        Assert.True(Scenario.PairMatches(helper.PathOf("svid.pem"), helper.PathOf("svid_key.pem"), out problem), problem);

        // A bundle-only change (a new CA published ahead of use) is written and signalled too.
        using var nextCa = TestCertificateAuthority.Create("example.org");
        var bundleChange = _ca.Response(second);
        bundleChange.Svids[0].Bundle = ByteString.CopyFrom([.. _ca.Root.RawData, .. nextCa.Root.RawData]);
        _api.State.SetX509Response(bundleChange);
        await Wait.UntilAsync(() => File.ReadAllText(helper.PathOf("bundle.pem")).Contains(Spiffe.X509.Pem.EncodeCertificates([nextCa.Root]), StringComparison.Ordinal), "the new CA in the bundle file");
        await Wait.UntilAsync(() => child.Hups == 2 && other.Hups == 3, "both processes to get SIGHUP after the bundle change");

        Assert.Equal(0, await helper.StopAsync());
        Assert.True(child.Terminated, "the child got SIGTERM when the helper stopped");
        await Wait.UntilAsync(() => !child.IsAlive, "the child to be gone");
        Assert.True(other.IsAlive, "the pid-file process is not the helper's to stop");
        otherProcess.Kill();
    }

    [Fact(Timeout = 90_000)]
    public async Task Run_ManyRotations_AReaderNeverSeesACertificateThatDoesNotMatchTheKey()
    {
        var svids = Enumerable.Range(0, 40).Select(_ => _ca.Issue("/web")).ToList();
        _api.State.SetX509Response(_ca.Response(svids[0]));
        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api));
        await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), svids[0]), "the first write");

        using var stopReading = new CancellationTokenSource();
        int consistentReads = 0, mismatches = 0;
        string? firstMismatch = null;
        var reader = Task.Run(() =>
        {
            while (!stopReading.IsCancellationRequested)
            {
                try
                {
                    // Read as an application does, by the visible names; a read that straddles a switch shows as a changed certificate.
                    var before = File.ReadAllText(helper.PathOf("svid.pem"));
                    var key = File.ReadAllText(helper.PathOf("svid_key.pem"));
                    var after = File.ReadAllText(helper.PathOf("svid.pem"));
                    if (before != after)
                    {
                        continue;
                    }

                    using var svid = Spiffe.X509.X509Svid.ParsePem(before, key);
                    Interlocked.Increment(ref consistentReads);
                }
                catch (Spiffe.X509.X509SvidException e)
                {
                    Interlocked.Increment(ref mismatches);
                    firstMismatch ??= e.Message;
                }
                catch (IOException)
                {
                    // A generation removed between resolving and reading: the reader retries, as inotify users do.
                }
            }
        });

        foreach (var svid in svids.Skip(1))
        {
            _api.State.SetX509Response(_ca.Response(svid));
            await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), svid), "a rotation to land");
        }

        await stopReading.CancelAsync();
        await reader.WaitAsync(Wait.Default);
        Assert.True(mismatches == 0, $"{mismatches} reads saw a certificate that does not match the key: {firstMismatch}");
        Assert.True(consistentReads > svids.Count, $"the reader made only {consistentReads} consistent reads");
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_AgentAbsentAtStart_WritesOnceItAppears()
    {
        var socket = _dir.Combine("late.sock");
        await using var helper = InProcessHelper.Start(_dir, $"agent_address = \"unix://{socket}\"\n" + Scenario.X509Outputs);
        await Task.Delay(1500);
        Assert.False(File.Exists(helper.PathOf("svid.pem")));
        Assert.False(helper.Run.IsCompleted);

        await using var late = await FakeWorkloadApi.StartAsync(socket).WaitAsync(Wait.Default);
        var svid = _ca.Issue("/web");
        late.State.SetX509Response(_ca.Response(svid));

        await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), svid), "the files once the agent is up");
        Assert.Equal(0, await helper.StopAsync());
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_RegistrationAppearsLate_RecoversFromPermissionDeniedWithoutRestart()
    {
        _api.State.FailNextX509Calls(new Status(StatusCode.PermissionDenied, "no identity issued"), new Status(StatusCode.PermissionDenied, "no identity issued"));
        var svid = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(svid));

        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api));

        await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), svid), "the files after the registration appears");
        Assert.Equal(3, _api.State.Calls("FetchX509SVID"));
        Assert.False(helper.Run.IsCompleted);
    }

    [Fact(Timeout = 30_000)]
    public async Task Run_InvalidArgument_ExitsWithRuntimeFailure()
    {
        _api.State.FailNextX509Calls(new Status(StatusCode.InvalidArgument, "security header missing"));

        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api));

        Assert.Equal(ExitCodes.RuntimeFailure, await helper.Run.WaitAsync(Wait.Default));
        Assert.False(File.Exists(helper.PathOf("svid.pem")));
    }

    [Fact(Timeout = 60_000)]
    public async Task Run_WriteFails_KeepsTheOldFilesIsNotReadyAndRecovers()
    {
        var port = FreePort();
        var first = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(first));
        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + $"[health_checks]\nlistener_enabled = true\nbind_port = {port}\n");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(5) };
        await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), first), "the first write");
        var ready = await http.GetAsync(new Uri("/ready", UriKind.Relative));
        var body = await ready.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        using (var json = System.Text.Json.JsonDocument.Parse(body))
        {
            Assert.Equal("OK", json.RootElement.GetProperty("status").GetString());
            Assert.Equal("written", json.RootElement.GetProperty("health").GetProperty("file_write_statuses").GetProperty("x509_write_status").GetString());
            var files = json.RootElement.GetProperty("spiffe_helper").GetProperty("files");
            Assert.Equal(["svid.pem", "svid_key.pem", "bundle.pem"], files.EnumerateObject().Select(f => f.Name));
            Assert.All(files.EnumerateObject(), f => Assert.Equal("written", f.Value.GetString()));
        }

        Posix.SetImmutable(helper.CertDir, true);
        try
        {
            var second = _ca.Issue("/web");
            _api.State.SetX509Response(_ca.Response(second));
            await Wait.UntilAsync(() => NotReady(http), "/ready to report the failed write");
            Assert.True(Holds(helper.PathOf("svid.pem"), first), "the previous certificate is still in place");
            Assert.True(Scenario.PairMatches(helper.PathOf("svid.pem"), helper.PathOf("svid_key.pem"), out var problem), problem);
            // As the Go tool: not live while the latest write failed, and x509_write_status says "failed".
            var live = await http.GetAsync(new Uri("/live", UriKind.Relative));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, live.StatusCode);
            using var liveJson = System.Text.Json.JsonDocument.Parse(await live.Content.ReadAsStringAsync());
            Assert.Equal("Service Unavailable", liveJson.RootElement.GetProperty("status").GetString());
            Assert.Equal("failed", liveJson.RootElement.GetProperty("health").GetProperty("file_write_statuses").GetProperty("x509_write_status").GetString());
        }
        finally
        {
            Posix.SetImmutable(helper.CertDir, false);
        }

        await Wait.UntilAsync(() => !NotReady(http), "/ready once the write succeeds on retry");
        Assert.False(Holds(helper.PathOf("svid.pem"), first));
    }

    [Fact(Timeout = 30_000)]
    public async Task Run_UpdateThatDoesNotVerify_IsNotWrittenAndTheApplicationIsNotSignalled()
    {
        var child = new CountingProcess(_dir, "child");
        var good = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(good));
        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + child.AsCmd + "renew_signal = \"SIGHUP\"\n");
        await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), good) && child.Started, "the first write");

        // Signed by another CA of the same name, sent with our bundle: the chain does not verify.
        using var impostor = TestCertificateAuthority.Create("example.org");
        var forged = impostor.ToProto(impostor.Issue("/web"));
        forged.Bundle = ByteString.CopyFrom(_ca.Root.RawData);
        var response = new Spiffe.WorkloadApi.Proto.X509SVIDResponse();
        response.Svids.Add(forged);
        _api.State.SetX509Response(response);
        await Task.Delay(1000);

        Assert.True(Holds(helper.PathOf("svid.pem"), good), "the verified SVID stays on disk");
        Assert.Equal(0, child.Hups);

        var next = _ca.Issue("/web");
        _api.State.SetX509Response(_ca.Response(next));
        await Wait.UntilAsync(() => Holds(helper.PathOf("svid.pem"), next) && child.Hups == 1, "the next valid update to be written and signalled");
    }

    [Fact(Timeout = 30_000)]
    public async Task Run_HealthPortTaken_ExitsWithRuntimeFailure()
    {
        using var taken = new TcpListener(IPAddress.Any, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        await using var helper = InProcessHelper.Start(_dir, Scenario.AgentConfig(_api) + $"[health_checks]\nlistener_enabled = true\nbind_port = {port}\n");

        Assert.Equal(ExitCodes.RuntimeFailure, await helper.Run.WaitAsync(Wait.Default));
    }

    private static bool NotReady(HttpClient http)
    {
        using var response = http.GetAsync(new Uri("/ready", UriKind.Relative)).GetAwaiter().GetResult();
        var body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        return response.StatusCode == HttpStatusCode.ServiceUnavailable && body.Contains("write_failed", StringComparison.Ordinal);
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
