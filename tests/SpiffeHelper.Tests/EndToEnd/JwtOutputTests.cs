using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Spiffe;
using Spiffe.Jwt;
using Spiffe.Testing;
using Spiffe.WorkloadApi.Proto;

namespace SpiffeHelper.Tests.EndToEnd;

/// <summary>The JWT output and the keystore password file of a helper run in-process against the fake Workload API, where faults can be forced.</summary>
public sealed class JwtOutputTests : IAsyncLifetime, IDisposable
{
    private const string Subject = "spiffe://example.org/web";
    private readonly TempDir _dir = new();
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org");
    private readonly TestJwtAuthority _jwt = new("example.org", "key-1");
    private readonly TestJwtAuthority _impostor = new("example.org", "key-1");
    private readonly ConcurrentQueue<string> _logs = new();
    private FakeWorkloadApi _api = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeWorkloadApi.StartAsync().WaitAsync(Wait.Default);
        _api.State.SetX509Response(_ca.Response(_ca.Issue("/web")));
        _api.State.SetJwtBundlesResponse(BundlesResponse(_jwt.Bundle.ToJwks()));
    }

    public async Task DisposeAsync() => await _api.DisposeAsync();

    public void Dispose()
    {
        _ca.Dispose();
        _jwt.Dispose();
        _impostor.Dispose();
        _dir.Dispose();
    }

    private static JWTBundlesResponse BundlesResponse(byte[] ownJwks)
    {
        var response = new JWTBundlesResponse();
        response.Bundles.Add("example.org", ByteString.CopyFrom(ownJwks));
        return response;
    }

    /// <summary>Answers every FetchJWTSVID with a fresh token from <paramref name="signer"/> for the requested audiences (or <paramref name="audience"/>).</summary>
    private void Issue(TestJwtAuthority signer, TimeSpan ttl, IReadOnlyList<string>? audience = null) =>
        _api.State.JwtSvidHandler = request =>
        {
            var response = new JWTSVIDResponse();
            response.Svids.Add(new JWTSVID { SpiffeId = Subject, Svid = signer.Mint(Subject, audience ?? [.. request.Audience], new TestJwtOptions { Ttl = ttl }) });
            return response;
        };

    private string Config(string more) => $"agent_address = \"{_api.Address}\"\n" + more;

    private const string JwtOutputs = """
        jwt_bundle_file_name = "jwt_bundle.json"
        jwt_svids = [{ jwt_audience = "api", jwt_extra_audiences = ["audit"], jwt_svid_file_name = "api.token" }]

        """;

    private Runner Start(string config, IReadOnlyDictionary<string, string>? environment = null, params string[] args) => Runner.Start(_dir, config, _logs, environment, args);

    private static JwtSvid ValidOnDisk(string path, JwtBundleSet bundles) => JwtSvid.Parse(File.ReadAllText(path), bundles, ["api"]);

    private void AssertNoSecretLogged(params string[] secrets)
    {
        Assert.NotEmpty(_logs);
        foreach (var secret in secrets)
        {
            Assert.DoesNotContain(_logs, line => line.Contains(secret, StringComparison.Ordinal));
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Daemon_TokenAndBundleValidatedWrittenWithModes_AndTheTokenRefreshedBeforeItExpires()
    {
        Issue(_jwt, TimeSpan.FromSeconds(6));
        await using var helper = Start(Config(JwtOutputs + "jwt_svid_file_mode = 0o640\n"));
        var tokenPath = helper.PathOf("api.token");
        var bundlePath = helper.PathOf("jwt_bundle.json");
        await Wait.UntilAsync(() => File.Exists(tokenPath) && File.Exists(bundlePath), "the token and the JWT bundle on disk");

        var bundles = new JwtBundleSet([JwtBundle.Parse(TrustDomain.Parse("example.org"), Convert.FromBase64String(System.Text.Json.JsonDocument.Parse(File.ReadAllText(bundlePath)).RootElement.GetProperty("example.org").GetString()!))]);
        var first = ValidOnDisk(tokenPath, bundles);
        Assert.Equal(["api", "audit"], first.Audience);
        Assert.Equal((UnixFileMode)Convert.ToInt32("640", 8), File.GetUnixFileMode(tokenPath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(bundlePath));

        // Refreshed at about half the remaining life: a new token is on disk while the first is still valid.
        await Wait.UntilAsync(() => File.ReadAllText(tokenPath) != first.Token, "a refreshed token", TimeSpan.FromSeconds(10));
        Assert.True(DateTimeOffset.UtcNow < first.Expiry, "the token was replaced only after it had expired");
        ValidOnDisk(tokenPath, bundles);
        Assert.Contains(_api.State.Calls("FetchJWTSVID"), new[] { 2, 3 });
        AssertNoSecretLogged(first.Token.Split('.')[2]);
    }

    [Fact(Timeout = 60_000)]
    public async Task Daemon_BadTokensAndBadBundles_KeepTheOldFilesMakeItNotReadyAndLogNoToken()
    {
        // 4 s tokens: refreshed every 2 s or so, so each forced fault below is met within seconds.
        Issue(_jwt, TimeSpan.FromSeconds(4));
        var port = DaemonModeTests.FreePort();
        await using var helper = Start(Config(JwtOutputs + $"[health_checks]\nlistener_enabled = true\nbind_port = {port}\n"));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var tokenPath = helper.PathOf("api.token");
        await Wait.UntilAsync(() => File.Exists(tokenPath) && File.Exists(helper.PathOf("jwt_bundle.json")), "the first token");
        await Wait.UntilAsync(() => Ready(http) == HttpStatusCode.OK, "ready after the first writes");
        var good = File.ReadAllText(tokenPath);
        var goodBundle = File.ReadAllText(helper.PathOf("jwt_bundle.json"));

        // 1. Signed by a key the bundle does not hold (same kid): not written, not ready.
        var forged = new List<string>();
        _api.State.JwtSvidHandler = request =>
        {
            var token = _impostor.Mint(Subject, [.. request.Audience]);
            forged.Add(token);
            var response = new JWTSVIDResponse();
            response.Svids.Add(new JWTSVID { SpiffeId = Subject, Svid = token });
            return response;
        };
        await Wait.UntilAsync(() => Ready(http) == HttpStatusCode.ServiceUnavailable, "not ready after a forged token");
        await Wait.UntilAsync(() => forged.Count > 0, "the forged token fetched");
        Assert.Contains("signature does not verify", await ReadyBody(http), StringComparison.Ordinal);
        Assert.Equal(good, File.ReadAllText(tokenPath));

        // 2. The agent answers for another audience: an audience mismatch.
        Issue(_jwt, TimeSpan.FromSeconds(4), audience: ["someone-else"]);
        await Wait.UntilAsync(() => ReadyBody(http).GetAwaiter().GetResult().Contains("does not include any expected audience", StringComparison.Ordinal), "the audience mismatch reported", TimeSpan.FromSeconds(20));
        Assert.Equal(good, File.ReadAllText(tokenPath));

        // 3. A good token again: written, ready.
        Issue(_jwt, TimeSpan.FromMinutes(5));
        await Wait.UntilAsync(() => File.ReadAllText(tokenPath) != good && Ready(http) == HttpStatusCode.OK, "a good token written and ready again", TimeSpan.FromSeconds(30));

        // 4. A JWKS with no key at all, then one with an unusable key: the bundle file stays, not ready.
        _api.State.SetJwtBundlesResponse(BundlesResponse("""{"keys":[]}"""u8.ToArray()));
        await Wait.UntilAsync(() => ReadyBody(http).GetAwaiter().GetResult().Contains("has no usable key", StringComparison.Ordinal), "the empty JWKS reported");
        Assert.Equal(goodBundle, File.ReadAllText(helper.PathOf("jwt_bundle.json")));
        _api.State.SetJwtBundlesResponse(BundlesResponse(_jwt.Bundle.ToJwks()));
        await Wait.UntilAsync(() => Ready(http) == HttpStatusCode.OK, "ready with a usable JWKS again");
        _api.State.SetJwtBundlesResponse(BundlesResponse("""{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}"""u8.ToArray()));
        await Wait.UntilAsync(() => ReadyBody(http).GetAwaiter().GetResult().Contains("unsupported key type", StringComparison.Ordinal), "the unusable JWKS reported");
        Assert.Equal(goodBundle, File.ReadAllText(helper.PathOf("jwt_bundle.json")));

        AssertNoSecretLogged([good.Split('.')[2], .. forged.Select(f => f.Split('.')[2]), "c2VjcmV0"]);
    }

    [Fact(Timeout = 60_000)]
    public async Task OneShot_WritesX509AndJwtOutputsValidatedForEveryAudienceThenExits()
    {
        Issue(_jwt, TimeSpan.FromMinutes(5));
        var audiences = new ConcurrentQueue<string>();
        var inner = _api.State.JwtSvidHandler!;
        _api.State.JwtSvidHandler = request =>
        {
            audiences.Enqueue(string.Join(",", request.Audience));
            return inner(request);
        };

        await using var helper = Start(Config(Scenario.X509Outputs + JwtOutputs + "jwt_bundle_format = \"jwks\"\ndaemon_mode = false\n"));

        Assert.Equal(ExitCodes.Success, await helper.Run.WaitAsync(Wait.Default));
        Assert.True(File.Exists(helper.PathOf("svid.pem")));
        var bundle = JwtBundle.Parse(TrustDomain.Parse("example.org"), File.ReadAllBytes(helper.PathOf("jwt_bundle.json")));
        Assert.Equal(["api", "audit"], ValidOnDisk(helper.PathOf("api.token"), new JwtBundleSet([bundle])).Audience);
        Assert.Contains("api,audit", audiences);
    }

    [Fact(Timeout = 60_000)]
    public async Task OneShot_OnlyForgedTokens_TimesOutWithoutWritingTheToken()
    {
        Issue(_impostor, TimeSpan.FromMinutes(5));

        await using var helper = Start(Config(JwtOutputs + "daemon_mode = false\none_shot_timeout = \"3s\"\n"));

        Assert.Equal(ExitCodes.OneShotTimeout, await helper.Run.WaitAsync(Wait.Default));
        Assert.False(File.Exists(helper.PathOf("api.token")));
    }

    [Fact(Timeout = 60_000)]
    public async Task Daemon_SignalOnJwtUpdate_StartsCmdOnceEverythingIsWrittenAndSignalsItOnRefresh()
    {
        Issue(_jwt, TimeSpan.FromSeconds(4));
        var child = new CountingProcess(_dir, "child");
        await using var helper = Start(Config(Scenario.X509Outputs + JwtOutputs + child.AsCmd + "renew_signal = \"SIGHUP\"\nsignal_on_jwt_update = true\n"));

        await Wait.UntilAsync(() => child.Started, "cmd to start");
        Assert.True(File.Exists(helper.PathOf("api.token")) && File.Exists(helper.PathOf("svid.pem")) && File.Exists(helper.PathOf("jwt_bundle.json")), "cmd started before every output was written");
        await Wait.UntilAsync(() => child.Hups >= 1, "a SIGHUP after a JWT refresh", TimeSpan.FromSeconds(10));
    }

    [Fact(Timeout = 60_000)]
    public async Task Daemon_KeystorePasswordFileMissing_WritesNothingIsNotReadyThenRecoversWhenItAppears()
    {
        var port = DaemonModeTests.FreePort();
        var passwordFile = _dir.Combine("store-password");
        await using var helper = Start(Config(Scenario.X509Outputs + $"pkcs12_keystore_file_name = \"keystore.p12\"\npkcs12_password_file = \"{passwordFile}\"\n[health_checks]\nlistener_enabled = true\nbind_port = {port}\n"));
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        await Wait.UntilAsync(() => ReadyBody(http).GetAwaiter().GetResult().Contains("cannot read pkcs12_password_file", StringComparison.Ordinal), "the missing password file reported");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, Ready(http));
        Assert.False(File.Exists(helper.PathOf("svid.pem")), "the PEM files were written without the keystore of the same switch");

        await File.WriteAllTextAsync(passwordFile, "changeit-please\n");
        await Wait.UntilAsync(() => File.Exists(helper.PathOf("keystore.p12")) && Ready(http) == HttpStatusCode.OK, "the keystore written on retry", TimeSpan.FromSeconds(15));
        Assert.NotEmpty(System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12Collection(File.ReadAllBytes(helper.PathOf("keystore.p12")), "changeit-please"));
        AssertNoSecretLogged("changeit-please");
    }

    private static HttpStatusCode Ready(HttpClient http)
    {
        try
        {
            using var response = http.GetAsync(new Uri("/ready", UriKind.Relative)).GetAwaiter().GetResult();
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }

    /// <summary>The /ready body (200 or 503), or "" while the listener is not up yet.</summary>
    private static async Task<string> ReadyBody(HttpClient http)
    {
        try
        {
            using var response = await http.GetAsync(new Uri("/ready", UriKind.Relative));
            return await response.Content.ReadAsStringAsync();
        }
        catch (HttpRequestException)
        {
            return string.Empty;
        }
    }

    /// <summary>A helper run in-process whose log lines are kept, to check that no secret reaches them.</summary>
    private sealed class Runner : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop;

        private Runner(string certDir, CancellationTokenSource stop, Func<CancellationToken, Task<int>> run)
        {
            CertDir = certDir;
            _stop = stop;
            Run = Task.Run(() => run(stop.Token));
        }

        public string CertDir { get; }

        public Task<int> Run { get; }

        public static Runner Start(TempDir dir, string configBody, ConcurrentQueue<string> logs, IReadOnlyDictionary<string, string>? environment, string[] args)
        {
            var certDir = dir.Combine("certs");
            var config = dir.Combine("helper.conf");
            File.WriteAllText(config, $"cert_dir = \"{certDir}\"\n" + configBody);
            var factory = LoggerFactory.Create(builder => builder.SetMinimumLevel(LogLevel.Trace).AddProvider(new QueueLoggerProvider(logs)));
            var env = new HelperEnvironment(
                name => environment is not null && environment.TryGetValue(name, out var v) ? v : null,
                dir.Path,
                TextWriter.Null,
                TextWriter.Null,
                TimeProvider.System,
                factory);
            return new Runner(certDir, new CancellationTokenSource(), token => HelperApp.RunAsync(["-config", config, .. args], env, token));
        }

        public string PathOf(string name) => Path.Combine(CertDir, name);

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await Run.WaitAsync(Wait.Default);
            _stop.Dispose();
        }
    }

    private sealed class QueueLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new QueueLogger(lines);

        public void Dispose()
        {
        }

        private sealed class QueueLogger(ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue(formatter(state, exception) + (exception is null ? string.Empty : " " + exception));
        }
    }
}
