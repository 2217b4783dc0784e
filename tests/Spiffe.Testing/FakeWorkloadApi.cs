using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Spiffe.WorkloadApi.Proto;

namespace Spiffe.Testing;

/// <summary>
/// An in-process Workload API server on a real Unix socket whose answers a test sets, in the manner of
/// go-spiffe's fakeworkloadapi. It enforces the security header as SPIRE does. Streams wait until a
/// response is set (as the agent blocks until SVIDs exist), send every new response to every open
/// stream, and can be made to fail on the next calls or in the middle of open streams.
/// </summary>
public sealed class FakeWorkloadApi : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _directory;

    private FakeWorkloadApi(WebApplication app, string directory, string socketPath, FakeWorkloadApiState state)
    {
        _app = app;
        _directory = directory;
        SocketPath = socketPath;
        State = state;
    }

    public string SocketPath { get; }

    /// <summary>The address in URI form, as <c>SPIFFE_ENDPOINT_SOCKET</c> would carry it.</summary>
    public string Address => "unix://" + SocketPath;

    public FakeWorkloadApiState State { get; }

    /// <summary>Starts the server.</summary>
    /// <param name="socketPath">Where to listen; a fresh temporary path when null.</param>
    /// <param name="sendInline">
    /// Kestrel's socket transport hands every write to an I/O queue thread before it reaches the socket; with
    /// this on, the stream's own thread writes to the socket, as an agent's does. For benchmarks that time from
    /// the moment the server writes; tests leave Kestrel's default.
    /// </param>
    public static async Task<FakeWorkloadApi> StartAsync(string? socketPath = null, bool sendInline = false)
    {
        var directory = Path.Combine(Path.GetTempPath(), "fake-wl-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        socketPath ??= Path.Combine(directory, "api.sock");
        var state = new FakeWorkloadApiState();

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (sendInline)
        {
            builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
        }

        builder.WebHost.ConfigureKestrel(kestrel =>
            kestrel.ListenUnixSocket(socketPath, listen => listen.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(state);
        var app = builder.Build();
        app.MapGrpcService<FakeWorkloadApiService>();
        await app.StartAsync();
        return new FakeWorkloadApi(app, directory, socketPath, state);
    }

    public async ValueTask DisposeAsync()
    {
        State.EndAllStreams();
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>What the fake answers; every setter takes effect at once, also on open streams.</summary>
public sealed class FakeWorkloadApiState
{
    private readonly Lock _lock = new();
    private readonly ConcurrentQueue<Status> _x509Failures = new();
    private readonly ConcurrentDictionary<string, int> _calls = new();
    private X509SVIDResponse? _x509;
    private X509BundlesResponse? _x509Bundles;
    private JWTBundlesResponse? _jwtBundles;
    private Status _streamFailure;
    private int _streamFailureGeneration;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastStreamWrite;

    /// <summary>
    /// <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> when a stream last began writing a message: the
    /// moment the server sends, after the hand-off from the setter to the stream's task.
    /// </summary>
    public long LastStreamWriteTimestamp => Volatile.Read(ref _lastStreamWrite);

    /// <summary>The value of the security header on every call, in order (null when absent).</summary>
    public ConcurrentQueue<string?> SecurityHeaders { get; } = new();

    /// <summary>Answers FetchJWTSVID; a test sets it.</summary>
    public Func<JWTSVIDRequest, JWTSVIDResponse>? JwtSvidHandler { get; set; }

    /// <summary>Answers ValidateJWTSVID; a test sets it.</summary>
    public Func<ValidateJWTSVIDRequest, ValidateJWTSVIDResponse>? ValidateHandler { get; set; }

    /// <summary>How many calls of <paramref name="rpc"/> arrived.</summary>
    public int Calls(string rpc) => _calls.TryGetValue(rpc, out var n) ? n : 0;

    public void SetX509Response(X509SVIDResponse response) => Change(() => _x509 = response);

    public void SetX509BundlesResponse(X509BundlesResponse response) => Change(() => _x509Bundles = response);

    public void SetJwtBundlesResponse(JWTBundlesResponse response) => Change(() => _jwtBundles = response);

    /// <summary>The next FetchX509SVID calls fail with these statuses, one each, before answering normally.</summary>
    public void FailNextX509Calls(params Status[] statuses)
    {
        foreach (var status in statuses)
        {
            _x509Failures.Enqueue(status);
        }
    }

    /// <summary>Every open stream ends with <paramref name="status"/>; later streams behave normally.</summary>
    public void FailOpenStreams(Status status) => Change(() =>
    {
        _streamFailure = status;
        _streamFailureGeneration++;
    });

    /// <summary>Ends every open stream without an error.</summary>
    public void EndAllStreams() => FailOpenStreams(Status.DefaultSuccess);

    internal void Record(string rpc, ServerCallContext context)
    {
        _calls.AddOrUpdate(rpc, 1, (_, n) => n + 1);
        var header = context.RequestHeaders.Where(h => h.Key == "workload.spiffe.io").ToList();
        SecurityHeaders.Enqueue(header.Count == 0 ? null : header[0].Value);
        if (header.Count != 1 || header[0].Value != "true")
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "security header missing from request"));
        }
    }

    internal Status? TakeX509Failure() => _x509Failures.TryDequeue(out var status) ? status : null;

    internal async Task StreamAsync<T>(Func<FakeWorkloadApiState, T?> current, IServerStreamWriter<T> writer, ServerCallContext context)
        where T : class
    {
        int generationAtStart;
        lock (_lock)
        {
            generationAtStart = _streamFailureGeneration;
        }

        T? sent = null;
        while (!context.CancellationToken.IsCancellationRequested)
        {
            Task changed;
            T? next;
            Status? failure;
            lock (_lock)
            {
                changed = _changed.Task;
                next = current(this);
                failure = _streamFailureGeneration == generationAtStart ? null : _streamFailure;
            }

            if (failure is { } status)
            {
                if (status.StatusCode == StatusCode.OK)
                {
                    return;
                }

                throw new RpcException(status);
            }

            if (next is not null && !ReferenceEquals(next, sent))
            {
                Volatile.Write(ref _lastStreamWrite, System.Diagnostics.Stopwatch.GetTimestamp());
                await writer.WriteAsync(next);
                sent = next;
            }

            await changed.WaitAsync(context.CancellationToken);
        }
    }

    internal X509SVIDResponse? X509 => _x509;

    internal X509BundlesResponse? X509Bundles => _x509Bundles;

    internal JWTBundlesResponse? JwtBundles => _jwtBundles;

    private void Change(Action change)
    {
        TaskCompletionSource previous;
        lock (_lock)
        {
            change();
            previous = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        previous.TrySetResult();
    }
}

internal sealed class FakeWorkloadApiService(FakeWorkloadApiState state) : SpiffeWorkloadAPI.SpiffeWorkloadAPIBase
{
    public override async Task FetchX509SVID(X509SVIDRequest request, IServerStreamWriter<X509SVIDResponse> responseStream, ServerCallContext context)
    {
        state.Record(nameof(FetchX509SVID), context);
        if (state.TakeX509Failure() is { } failure)
        {
            throw new RpcException(failure);
        }

        await Ignore(state.StreamAsync(s => s.X509, responseStream, context));
    }

    public override Task FetchX509Bundles(X509BundlesRequest request, IServerStreamWriter<X509BundlesResponse> responseStream, ServerCallContext context)
    {
        state.Record(nameof(FetchX509Bundles), context);
        return Ignore(state.StreamAsync(s => s.X509Bundles, responseStream, context));
    }

    public override Task FetchJWTBundles(JWTBundlesRequest request, IServerStreamWriter<JWTBundlesResponse> responseStream, ServerCallContext context)
    {
        state.Record(nameof(FetchJWTBundles), context);
        return Ignore(state.StreamAsync(s => s.JwtBundles, responseStream, context));
    }

    public override Task<JWTSVIDResponse> FetchJWTSVID(JWTSVIDRequest request, ServerCallContext context)
    {
        state.Record(nameof(FetchJWTSVID), context);
        if (request.Audience.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "audience must be specified"));
        }

        return Task.FromResult(state.JwtSvidHandler?.Invoke(request)
            ?? throw new RpcException(new Status(StatusCode.PermissionDenied, "no identity issued")));
    }

    public override Task<ValidateJWTSVIDResponse> ValidateJWTSVID(ValidateJWTSVIDRequest request, ServerCallContext context)
    {
        state.Record(nameof(ValidateJWTSVID), context);
        return Task.FromResult(state.ValidateHandler?.Invoke(request)
            ?? throw new RpcException(new Status(StatusCode.Unimplemented, "not set")));
    }

    private static async Task Ignore(Task stream)
    {
        try
        {
            await stream;
        }
        catch (OperationCanceledException)
        {
            // The client went away.
        }
    }
}
