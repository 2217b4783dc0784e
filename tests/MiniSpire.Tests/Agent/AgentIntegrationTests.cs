using System.Globalization;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MiniSpire.Agent;
using MiniSpire.Agent.Attestation;
using MiniSpire.Config;
using MiniSpire.Tests.Support;
using Spiffe;
using Spiffe.WorkloadApi;
using Spiffe.X509;

namespace MiniSpire.Tests.Agent;

/// <summary>A real server and a real agent on their real sockets, with this test process as the workload.</summary>
public sealed class AgentIntegrationTests : IAsyncLifetime
{
    private readonly string _uid = new ProcessInspector().ReadIds(Environment.ProcessId)!.Uid.ToString(CultureInfo.InvariantCulture);
    private TestServer _server = null!;
    private string _root = null!;

    public async Task InitializeAsync()
    {
        _server = await TestServer.StartAsync();
        _root = TestServer.NewTempDirectory();
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Agent_AttestsWithJoinToken_ServesTheRegisteredUidItsSvid()
    {
        var token = await _server.GenerateTokenAsync();
        var agentId = $"spiffe://example.org/spire/agent/join_token/{token}";
        await _server.CreateEntryAsync(agentId, "spiffe://example.org/web", "-selector", $"unix:uid:{_uid}");
        var options = await AgentOptionsAsync(token);

        await using var agent = await StartAgentAsync(options);
        using var client = Client(options);
        using var context = await client.FetchX509ContextAsync().Within();

        Assert.Equal("spiffe://example.org/web", context.DefaultSvid.Id.ToString());
        context.DefaultSvid.Verify(await _server.BundleAsync(), DateTimeOffset.UtcNow);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(options.DataDir, "agent_svid.key")));
    }

    [Fact]
    public async Task Agent_ShortTtl_RotatesOnAnOpenStream()
    {
        // 20 s TTL plus SPIRE's 10 s backdating: rotation falls due 3.5-6.5 s after issuance.
        var token = await _server.GenerateTokenAsync();
        var agentId = $"spiffe://example.org/spire/agent/join_token/{token}";
        await _server.CreateEntryAsync(agentId, "spiffe://example.org/web", "-selector", $"unix:uid:{_uid}", "-x509SVIDTTL", "20");
        var options = await AgentOptionsAsync(token);
        await using var agent = await StartAgentAsync(options);
        using var client = Client(options);
        await using var watch = client.WatchX509ContextsAsync().GetAsyncEnumerator();

        Assert.True(await watch.MoveNextAsync().AsTask().Within());
        var firstSerial = watch.Current.DefaultSvid.Leaf.SerialNumber;
        var firstExpiry = watch.Current.DefaultSvid.NotAfter;
        watch.Current.Dispose();
        Assert.True(await watch.MoveNextAsync().AsTask().Within());

        using var rotated = watch.Current;
        Assert.NotEqual(firstSerial, rotated.DefaultSvid.Leaf.SerialNumber);
        Assert.True(rotated.DefaultSvid.NotAfter > firstExpiry);
        Assert.True(firstExpiry > DateTimeOffset.UtcNow, "the SVID must be rotated before it expires");
    }

    [Fact]
    public async Task Agent_EntryDeleted_EndsTheStreamWithPermissionDenied()
    {
        var token = await _server.GenerateTokenAsync();
        var agentId = $"spiffe://example.org/spire/agent/join_token/{token}";
        var entryId = await _server.CreateEntryAsync(agentId, "spiffe://example.org/web", "-selector", $"unix:uid:{_uid}");
        var options = await AgentOptionsAsync(token);
        await using var agent = await StartAgentAsync(options);
        var failures = new List<WorkloadApiFailure>();
        using var client = Client(options, failures.Add);
        await using var watch = client.WatchX509ContextsAsync().GetAsyncEnumerator();
        Assert.True(await watch.MoveNextAsync().AsTask().Within());
        watch.Current.Dispose();

        var deleted = await _server.CliAsync("entry", "delete", "-entryID", entryId);
        Assert.Equal(0, deleted.ExitCode);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!failures.Any(f => f.StatusCode == StatusCode.PermissionDenied) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Contains(failures, f => f.StatusCode == StatusCode.PermissionDenied);
    }

    [Fact]
    public async Task Agent_Restarted_ResumesWithItsStoredSvidWithoutAToken()
    {
        var token = await _server.GenerateTokenAsync();
        var agentId = $"spiffe://example.org/spire/agent/join_token/{token}";
        await _server.CreateEntryAsync(agentId, "spiffe://example.org/web", "-selector", $"unix:uid:{_uid}");
        var options = await AgentOptionsAsync(token);
        await using (var first = await StartAgentAsync(options))
        {
            using var client = Client(options);
            using var _ = await client.FetchX509ContextAsync().Within();
        }

        // The token is spent: the agent must come back on its stored SVID alone.
        await using var second = await StartAgentAsync(options with { JoinToken = null });
        using var again = Client(options);
        using var context = await again.FetchX509ContextAsync().Within();

        Assert.Equal("spiffe://example.org/web", context.DefaultSvid.Id.ToString());
    }

    [Fact]
    public async Task Agent_Evicted_StopsServingIdentities()
    {
        var token = await _server.GenerateTokenAsync();
        var agentId = $"spiffe://example.org/spire/agent/join_token/{token}";
        await _server.CreateEntryAsync(agentId, "spiffe://example.org/web", "-selector", $"unix:uid:{_uid}");
        var options = await AgentOptionsAsync(token);
        var app = await StartAgentAsync(options);
        try
        {
            using var client = Client(options);
            using (await client.FetchX509ContextAsync().Within())
            {
            }

            var evicted = await _server.CliAsync("agent", "evict", "-spiffeID", agentId);
            Assert.True(evicted.ExitCode == 0, evicted.Stderr);

            var lifetime = app.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>();
            await Task.Delay(Timeout.Infinite, lifetime.ApplicationStopping).ContinueWith(_ => { }, TaskScheduler.Default).Within();
            Assert.Contains("has been evicted", app.Services.GetRequiredService<AgentService>().FailureReason, StringComparison.Ordinal);
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task Agent_WithoutTokenOrStoredSvid_StopsWithAClearReason()
    {
        var options = await AgentOptionsAsync(token: null);
        var logs = new List<string>();
        var app = AgentHost.Build(options, configureLogging: logging => logging.AddProvider(new ListLoggerProvider(logs)));
        try
        {
            var service = app.Services.GetRequiredService<AgentService>();

            // The agent stops itself, possibly before its listeners are even up.
            await app.RunAsync().ContinueWith(_ => { }, TaskScheduler.Default).Within();

            Assert.NotNull(service.FailureReason);
            Assert.Contains(logs, l => l.Contains("no join token", StringComparison.Ordinal));
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task AttestCommand_WrongSelector_ShowsTheSelectorsTheMatchAndWhatTheNearMissLacks()
    {
        var token = await _server.GenerateTokenAsync();
        var agentId = $"spiffe://example.org/spire/agent/join_token/{token}";
        await _server.CreateEntryAsync(agentId, "spiffe://example.org/web", "-selector", $"unix:uid:{_uid}");
        await _server.CreateEntryAsync(agentId, "spiffe://example.org/typo", "-selector", "unix:uid:99999", "-selector", $"unix:uid:{_uid}");
        var options = await AgentOptionsAsync(token);
        await using var agent = await StartAgentAsync(options);

        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await MiniSpire.Cli.MiniSpireCli.RunAsync(
            ["agent", "attest", "-pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture), "-socketPath", options.AdminSocketPath], stdout, stderr).Within();

        Assert.True(exit == 0, stderr.ToString());
        var text = stdout.ToString();
        Assert.Contains($"  unix:uid:{_uid}", text, StringComparison.Ordinal);
        Assert.Matches(@"Matching entries:\n  \S+  spiffe://example\.org/web", text);
        Assert.Matches(@"Near misses.*\n  \S+  spiffe://example\.org/typo  missing: unix:uid:99999\n", text);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(options.AdminSocketPath));
    }

    [Fact]
    public async Task NoMatchingEntry_AgentLogNamesTheCallerItsSelectorsAndTheMissingSelector()
    {
        var token = await _server.GenerateTokenAsync();
        var agentId = $"spiffe://example.org/spire/agent/join_token/{token}";
        await _server.CreateEntryAsync(agentId, "spiffe://example.org/web", "-selector", "unix:uid:99999");
        var options = await AgentOptionsAsync(token);
        var logs = new List<string>();
        var app = AgentHost.Build(options, configureLogging: logging => logging.AddProvider(new ListLoggerProvider(logs)));
        await app.StartAsync().Within();
        try
        {
            await app.Services.GetRequiredService<AgentService>().FirstSync.Within();
            using var client = Client(options);

            var error = await Assert.ThrowsAsync<RpcException>(() => client.FetchX509ContextAsync().Within());

            Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
            string line;
            lock (logs)
            {
                line = logs.Single(l => l.StartsWith("No registration entry matches", StringComparison.Ordinal));
            }

            Assert.Contains($"(pid {Environment.ProcessId})", line, StringComparison.Ordinal);
            Assert.Contains($"unix:uid:{_uid}", line, StringComparison.Ordinal);
            Assert.Contains("(spiffe://example.org/web) lacks unix:uid:99999", line, StringComparison.Ordinal);
        }
        finally
        {
            await app.StopAsync().Within();
            await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task AdminApi_IsNotServedOnTheWorkloadSocket()
    {
        var token = await _server.GenerateTokenAsync();
        var options = await AgentOptionsAsync(token);
        await using var agent = await StartAgentAsync(options);
        var (channel, admin) = MiniSpire.Cli.AdminClient.ConnectAgent(options.SocketPath);
        using var _ = channel;

        var error = await Assert.ThrowsAsync<RpcException>(() => admin.AttestPidAsync(new MiniSpire.Proto.AttestPidRequest { Pid = Environment.ProcessId }).ResponseAsync.Within());

        Assert.NotEqual(StatusCode.OK, error.StatusCode);
    }

    [Fact]
    public async Task IndependentNodeClient_FetchesSvidsAndBundlesAndIsRefusedWithoutTheHeader()
    {
        var token = await _server.GenerateTokenAsync();
        var agentId = $"spiffe://example.org/spire/agent/join_token/{token}";
        await _server.CreateEntryAsync(agentId, "spiffe://example.org/web", "-selector", $"unix:uid:{_uid}", "-hint", "web");
        var options = await AgentOptionsAsync(token);
        await using var agent = await StartAgentAsync(options);
        var script = Path.Combine(Spiffe.Testing.ProcessRunner.RepositoryRoot, "tools", "workload-api-node-client", "fetch.mjs");

        var run = await Spiffe.Testing.ProcessRunner.RunAsync("node", [script, options.SocketPath, "api"], TimeSpan.FromSeconds(60));

        Assert.True(run.ExitCode == 0, run.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(run.StandardOutput);
        var root = json.RootElement;
        var svid = root.GetProperty("x509")[0];
        Assert.Equal("spiffe://example.org/web", svid.GetProperty("spiffe_id").GetString());
        Assert.Equal("web", svid.GetProperty("hint").GetString());
        Assert.True(svid.GetProperty("key_bytes").GetInt32() > 0);
        var bundle = await _server.BundleAsync();
        var chain = Spiffe.X509.DerCertificates.Parse(Convert.FromBase64String(svid.GetProperty("x509_svid").GetString()!));
        Assert.Equal(bundle.ExportDer(), Convert.FromBase64String(svid.GetProperty("bundle").GetString()!));

        Assert.Equal("spiffe://example.org/web", Assert.Single(chain[0].GetUriSans()));
        Assert.True(root.GetProperty("x509_bundles").TryGetProperty("spiffe://example.org", out _));
        Assert.Equal("spiffe://example.org/web", root.GetProperty("jwt")[0].GetProperty("spiffe_id").GetString());
        Assert.Equal("spiffe://example.org/web", root.GetProperty("validated").GetProperty("sub").GetString());
        Assert.True(root.GetProperty("jwt_bundles").GetProperty("spiffe://example.org").GetProperty("keys").GetArrayLength() > 0);
        Assert.Equal("INVALID_ARGUMENT", root.GetProperty("no_header").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Agent_ShortAgentSvidTtl_RenewsItsOwnSvidAndKeepsSyncing()
    {
        await using var server = await TestServer.StartAsync(o => o with { DefaultX509SvidTtl = TimeSpan.FromSeconds(20) });
        var token = await server.GenerateTokenAsync();
        var agentId = $"spiffe://example.org/spire/agent/join_token/{token}";
        var options = await AgentOptionsAsync(token, server);
        await using var agent = await StartAgentAsync(options);
        var svidPath = Path.Combine(options.DataDir, "agent_svid.der");
        var first = await File.ReadAllBytesAsync(svidPath);

        var deadline = DateTime.UtcNow.AddSeconds(25);
        while ((await File.ReadAllBytesAsync(svidPath)).SequenceEqual(first) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.False((await File.ReadAllBytesAsync(svidPath)).SequenceEqual(first), "the agent SVID was not renewed");

        // The renewed SVID is what the agent now authenticates with: a new entry still reaches it.
        await server.CreateEntryAsync(agentId, "spiffe://example.org/after-renewal", "-selector", $"unix:uid:{_uid}");
        using var client = Client(options);
        var seen = false;
        while (!seen && DateTime.UtcNow < deadline.AddSeconds(15))
        {
            try
            {
                using var context = await client.FetchX509ContextAsync().Within();
                seen = context.Svids.Any(s => s.Id.ToString() == "spiffe://example.org/after-renewal");
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.PermissionDenied)
            {
            }

            await Task.Delay(200);
        }

        Assert.True(seen, "the agent stopped syncing after renewing its SVID");
    }

    [Fact]
    public async Task ClientCommands_FetchJwtValidateAndHealthcheck_WorkAgainstTheAgent()
    {
        var token = await _server.GenerateTokenAsync();
        var agentId = $"spiffe://example.org/spire/agent/join_token/{token}";
        await _server.CreateEntryAsync(agentId, "spiffe://example.org/web", "-selector", $"unix:uid:{_uid}");
        var options = await AgentOptionsAsync(token);
        await using var agent = await StartAgentAsync(options);

        var fetched = await CliAsync("agent", "api", "fetch", "jwt", "-audience", "api,db", "-socketPath", options.SocketPath);
        var jwt = fetched.Stdout.Split('\n')[1].Trim();
        var validated = await CliAsync("agent", "api", "validate", "jwt", "-audience", "db", "-svid", jwt, "-socketPath", options.SocketPath);
        var wrongAudience = await CliAsync("agent", "api", "validate", "jwt", "-audience", "other", "-svid", jwt, "-socketPath", options.SocketPath);
        var healthy = await CliAsync("agent", "healthcheck", "-socketPath", options.SocketPath);
        var noAgent = await CliAsync("agent", "healthcheck", "-socketPath", Path.Combine(_root, "nothing.sock"));

        Assert.True(fetched.ExitCode == 0, fetched.Stderr);
        Assert.StartsWith("token(spiffe://example.org/web):", fetched.Stdout, StringComparison.Ordinal);
        Assert.Contains("bundle(spiffe://example.org):", fetched.Stdout, StringComparison.Ordinal);
        Assert.True(validated.ExitCode == 0, validated.Stderr);
        Assert.Contains("SPIFFE ID : spiffe://example.org/web", validated.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, wrongAudience.ExitCode);
        Assert.Contains("InvalidArgument", wrongAudience.Stderr, StringComparison.Ordinal);
        Assert.Equal((0, "Agent is healthy."), (healthy.ExitCode, healthy.Stdout.Trim()));
        Assert.Equal(MiniSpire.Cli.ExitCodes.Unreachable, noAgent.ExitCode);
        Assert.Contains("agent is unhealthy", noAgent.Stderr, StringComparison.Ordinal);
    }

    private static async Task<CliResult> CliAsync(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await MiniSpire.Cli.MiniSpireCli.RunAsync(args, stdout, stderr).Within();
        return new CliResult(exit, stdout.ToString(), stderr.ToString());
    }

    private async Task<AgentOptions> AgentOptionsAsync(string? token, TestServer? server = null)
    {
        server ??= _server;
        var agentRoot = Path.Combine(_root, Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(agentRoot);
        var bundlePath = Path.Combine(agentRoot, "bootstrap.pem");
        await File.WriteAllTextAsync(bundlePath, (await server.BundleAsync()).ExportPem());
        return new AgentOptions
        {
            TrustDomain = TrustDomain.Parse("example.org"),
            ServerAddress = "127.0.0.1",
            ServerPort = server.Options.BindPort,
            SocketPath = Path.Combine(agentRoot, "public", "api.sock"),
            AdminSocketPath = Path.Combine(agentRoot, "private", "admin.sock"),
            DataDir = Path.Combine(agentRoot, "data"),
            TrustBundlePath = bundlePath,
            JoinToken = token,
            SyncInterval = TimeSpan.FromMilliseconds(250),
            LogLevel = LogLevel.Warning,
        };
    }

    private static async Task<WebApplication> StartAgentAsync(AgentOptions options)
    {
        var app = AgentHost.Build(options, configureLogging: _ => { });
        await app.StartAsync().Within();
        await app.Services.GetRequiredService<AgentService>().FirstSync.Within();
        return app;
    }

    private static WorkloadApiClient Client(AgentOptions options, Action<WorkloadApiFailure>? onFailure = null) => new(new WorkloadApiClientOptions
    {
        Address = WorkloadApiAddress.Parse("unix://" + options.SocketPath),
        InitialRetryDelay = TimeSpan.FromMilliseconds(100),
        OnFailure = onFailure,
    });

    private sealed class ListLoggerProvider(List<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new ListLogger(lines);

        public void Dispose()
        {
        }

        private sealed class ListLogger(List<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (lines)
                {
                    lines.Add(formatter(state, exception));
                }
            }
        }
    }
}
