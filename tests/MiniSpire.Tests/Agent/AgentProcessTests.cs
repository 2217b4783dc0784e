using System.Globalization;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using MiniSpire.Agent.Attestation;
using Spiffe.Testing;
using Spiffe.WorkloadApi.Proto;

namespace MiniSpire.Tests.Agent;

/// <summary>
/// <c>minispire server run</c> and <c>minispire agent run</c> as real processes; workloads are real
/// processes too, one of them running as another user through <c>runuser</c>.
/// </summary>
public sealed class AgentProcessTests : IAsyncLifetime
{
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly string OwnUid = new ProcessInspector().ReadIds(Environment.ProcessId)!.Uid.ToString(CultureInfo.InvariantCulture);

    private LocalMiniSpire _stack = null!;

    public async Task InitializeAsync() => _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task RegisteredUid_GetsItsSvid_WhileAnotherUserIsDenied()
    {
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{OwnUid}");
        var output = Path.Combine(_stack.Root, "out");

        var registered = await FetchUntilAsync("spiffe://example.org/web", "-write", output);
        var nobody = await ProcessRunner.RunAsync(
            "runuser", ["-u", "nobody", "--", "env", "DOTNET_CLI_HOME=/tmp", "dotnet", MiniSpireDll, "agent", "api", "fetch", "x509", "-socketPath", _stack.AgentSocket], LocalMiniSpire.Timeout);

        Assert.Contains("SPIFFE ID:\t\tspiffe://example.org/web", registered.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(output, "svid.0.key")));
        var verify = await ProcessRunner.RunAsync("openssl", ["verify", "-CAfile", Path.Combine(output, "bundle.0.pem"), Path.Combine(output, "svid.0.pem")], LocalMiniSpire.Timeout);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Equal(1, nobody.ExitCode);
        Assert.Contains("PermissionDenied", nobody.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentKeepsServingWhileTheServerIsDown_AndCatchesUpWhenItReturns()
    {
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{OwnUid}");
        await FetchUntilAsync("spiffe://example.org/web");

        await _stack.KillServerAsync();
        var whileDown = await _stack.MiniSpireAsync("agent", "api", "fetch", "x509", "-socketPath", _stack.AgentSocket);
        Assert.True(whileDown.ExitCode == 0, whileDown.ToString());

        await _stack.StartServerAsync();
        await _stack.CreateEntryAsync("spiffe://example.org/db", "-selector", $"unix:uid:{OwnUid}");
        var caughtUp = await FetchUntilAsync("spiffe://example.org/db");

        Assert.Contains("spiffe://example.org/web", caughtUp.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sigterm_With50OpenWatches_ExitsZeroWithin2Seconds_AndEndsEveryStreamUnavailable()
    {
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{OwnUid}");
        await FetchUntilAsync("spiffe://example.org/web");
        var timeout = TimeSpan.FromSeconds(30);
        var channels = new List<GrpcChannel>();
        var calls = new List<AsyncServerStreamingCall<X509SVIDResponse>>();
        try
        {
            for (var i = 0; i < 50; i++)
            {
                var channel = Channel(_stack.AgentSocket);
                channels.Add(channel);
                var call = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel).FetchX509SVID(new X509SVIDRequest(), new Metadata { { "workload.spiffe.io", "true" } });
                calls.Add(call);
            }

            // Every watch is open and has received its first snapshot.
            foreach (var call in calls)
            {
                Assert.True(await call.ResponseStream.MoveNext().WaitAsync(timeout));
            }

            var (exitCode, elapsed) = await _stack.TerminateAgentAsync();

            Assert.Equal(0, exitCode);
            Assert.True(elapsed < TimeSpan.FromSeconds(2), $"the agent took {elapsed.TotalMilliseconds:0} ms to stop after SIGTERM\n{_stack.Output}");
            foreach (var call in calls)
            {
                var ended = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext().WaitAsync(timeout));
                Assert.Equal(StatusCode.Unavailable, ended.StatusCode);
                Assert.Equal("the agent is shutting down", ended.Status.Detail);
            }
        }
        finally
        {
            calls.ForEach(c => c.Dispose());
            channels.ForEach(c => c.Dispose());
        }
    }

    private static GrpcChannel Channel(string socketPath) => GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), token);
                return new NetworkStream(socket, ownsSocket: true);
            },
        },
        DisposeHttpClient = true,
    });

    /// <summary>Fetches until the agent has synced an SVID for <paramref name="spiffeId"/>.</summary>
    private async Task<ProcessResult> FetchUntilAsync(string spiffeId, params string[] more)
    {
        var deadline = DateTime.UtcNow + LocalMiniSpire.Timeout;
        while (true)
        {
            var result = await _stack.MiniSpireAsync(["agent", "api", "fetch", "x509", "-socketPath", _stack.AgentSocket, .. more]);
            if (result.ExitCode == 0 && result.StandardOutput.Contains(spiffeId, StringComparison.Ordinal))
            {
                return result;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no SVID for {spiffeId}: {result}");
            await Task.Delay(200);
        }
    }
}
