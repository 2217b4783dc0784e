using System.Net.Sockets;
using Grpc.Net.Client;
using Spiffe.Testing;

namespace Bench;

/// <summary>
/// What the benchmarks share: the options, and one MiniSpire server and agent (real processes) with a
/// registration entry for this process's uid, started on first use and stopped at the end.
/// </summary>
internal sealed class BenchContext(BenchOptions options) : IAsyncDisposable
{
    /// <summary>The agent syncs often so an entry change reaches it quickly (benchmark 5); SPIRE's default is 5 s.</summary>
    public const string AgentSyncInterval = "500ms";

    private LocalMiniSpire? _stack;

    public BenchOptions Options { get; } = options;

    public bool Tiny => Options.Size == BenchSize.Tiny;

    /// <summary>The entry every process of this uid receives: spiffe://example.org/bench/workload.</summary>
    public string WorkloadEntryId { get; private set; } = string.Empty;

    public const string WorkloadSpiffeId = "spiffe://example.org/bench/workload";

    public async Task<LocalMiniSpire> StackAsync()
    {
        if (_stack is not null)
        {
            return _stack;
        }

        Console.Error.WriteLine("bench: starting a MiniSpire server and agent");
        _stack = await LocalMiniSpire.StartAsync(Options.MiniSpire, agentSyncInterval: AgentSyncInterval);
        WorkloadEntryId = await _stack.CreateEntryAsync(WorkloadSpiffeId, "-selector", $"unix:uid:{Posix.Uid()}");

        // Wait until the agent has synced the entry and holds its SVID: a first fetch answers.
        using var channel = WorkloadChannel(_stack.AgentSocket);
        var client = new Spiffe.WorkloadApi.Proto.SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            try
            {
                using var call = client.FetchX509SVID(new Spiffe.WorkloadApi.Proto.X509SVIDRequest(), SecurityHeader, deadline: DateTime.UtcNow.AddSeconds(10));
                if (await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                    break;
                }
            }
            catch (Grpc.Core.RpcException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }

        return _stack;
    }

    /// <summary>The Workload API's required request header.</summary>
    public static Grpc.Core.Metadata SecurityHeader { get; } = new() { { "workload.spiffe.io", "true" } };

    /// <summary>A gRPC channel to a Unix socket; every channel opens its own connection.</summary>
    public static GrpcChannel WorkloadChannel(string socketPath) => GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        },
        DisposeHttpClient = true,
    });

    public string WorkDirectory(string name)
    {
        var path = Path.Combine(Options.WorkDirectory, name);
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }

        Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>What the MiniSpire server and agent printed (warnings and errors), for a failure report.</summary>
    public string StackOutput => _stack?.Output ?? string.Empty;

    public async ValueTask DisposeAsync()
    {
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
        }
    }
}
