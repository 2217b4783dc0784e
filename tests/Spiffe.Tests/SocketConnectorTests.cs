using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Spiffe.Transport;
using Spiffe.WorkloadApi;

namespace Spiffe.Tests;

/// <summary>A socket that is missing, not a socket, or not listened on: each named with its path and its own cause.</summary>
public sealed class SocketConnectorTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "connector-" + Guid.NewGuid().ToString("N")[..10]);

    public SocketConnectorTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<string> ConnectErrorAsync(EndPoint endPoint, string what)
    {
        var e = await Assert.ThrowsAsync<SocketConnectException>(async () => await SocketConnector.ConnectAsync(endPoint, what, CancellationToken.None).AsTask().WaitAsync(Timeout));
        Assert.IsType<SocketException>(e.InnerException);
        return e.Message;
    }

    [Fact]
    public async Task Connect_NoFileAtThePath_SaysNoSuchFileWithThePath()
    {
        var path = Path.Combine(_dir, "api.sock");

        Assert.Equal($"no Workload API socket at {path} (No such file or directory)", await ConnectErrorAsync(new UnixDomainSocketEndPoint(path), "Workload API socket"));
    }

    [Fact]
    public async Task Connect_MissingDirectory_SaysNoSuchFileWithThePath()
    {
        var path = Path.Combine(_dir, "spire-agent", "public", "api.sock");

        Assert.Equal($"no MiniSpire server at {path} (No such file or directory)", await ConnectErrorAsync(new UnixDomainSocketEndPoint(path), "MiniSpire server"));
    }

    [Fact]
    public async Task Connect_RegularFile_SaysItIsNotASocket()
    {
        var path = Path.Combine(_dir, "api.sock");
        await File.WriteAllTextAsync(path, "not a socket");

        Assert.Equal($"no Workload API socket at {path} (a regular file is there, not a socket)", await ConnectErrorAsync(new UnixDomainSocketEndPoint(path), "Workload API socket"));
    }

    [Fact]
    public async Task Connect_Directory_SaysItIsNotASocket()
    {
        Assert.Equal($"no Workload API socket at {_dir} (a directory is there, not a socket)", await ConnectErrorAsync(new UnixDomainSocketEndPoint(_dir), "Workload API socket"));
    }

    [Fact]
    public async Task Connect_SocketFileNobodyListensOn_SaysConnectionRefused()
    {
        var path = Path.Combine(_dir, "api.sock");

        // Bound but not listening: the socket file exists and connect(2) is refused, as after an agent is killed.
        using var bound = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        bound.Bind(new UnixDomainSocketEndPoint(path));

        Assert.Equal(
            $"no Workload API socket at {path} (Connection refused: the socket file is there but nothing accepts connections on it)",
            await ConnectErrorAsync(new UnixDomainSocketEndPoint(path), "Workload API socket"));
    }

    [Fact]
    public async Task Connect_TcpPortNobodyListensOn_SaysConnectionRefusedWithTheEndpoint()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        Assert.Equal($"no Workload API listening at 127.0.0.1:{port} (Connection refused)", await ConnectErrorAsync(new IPEndPoint(IPAddress.Loopback, port), "Workload API"));
    }

    [Fact]
    public async Task Watch_MissingSocket_ReportsThePathNotThePlaceholderHost()
    {
        var path = Path.Combine(_dir, "api.sock");
        var failures = new ConcurrentQueue<WorkloadApiFailure>();
        using var client = new WorkloadApiClient(new WorkloadApiClientOptions
        {
            Address = WorkloadApiAddress.Parse("unix://" + path),
            InitialRetryDelay = TimeSpan.FromMilliseconds(20),
            OnFailure = failures.Enqueue,
        });
        using var stop = new CancellationTokenSource(Timeout);

        await using (var watch = client.WatchX509ContextsAsync(stop.Token).GetAsyncEnumerator(stop.Token))
        {
            var next = watch.MoveNextAsync().AsTask();
            while (failures.IsEmpty && !next.IsCompleted)
            {
                await Task.Delay(20, stop.Token);
            }

            await stop.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next);
        }

        var failure = failures.First();
        Assert.Equal(StatusCode.Unavailable, failure.StatusCode);
        Assert.Equal($"no Workload API socket at {path} (No such file or directory)", failure.Reason);
        Assert.DoesNotContain("localhost:80", failure.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fetch_MissingSocket_TheRpcExceptionLeadsToThePath()
    {
        var path = Path.Combine(_dir, "api.sock");
        using var client = new WorkloadApiClient(new WorkloadApiClientOptions { Address = WorkloadApiAddress.Parse(path) });

        var e = await Assert.ThrowsAsync<RpcException>(() => client.FetchX509ContextAsync().WaitAsync(Timeout));

        Assert.Equal($"no Workload API socket at {path} (No such file or directory)", SocketConnectException.Find(e)?.Message);
        Assert.Equal($"no Workload API socket at {path} (No such file or directory)", WorkloadApiFailure.Describe(e));
    }
}
