using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SpiffeHelper.Config;
using SpiffeHelper.Metrics;

namespace SpiffeHelper.Health;

/// <summary>
/// The health listener: answers <c>GET</c> on the liveness and readiness paths with 200 or 503 and the
/// Go tool's JSON body plus ours beside it (<see cref="HealthBody"/>). It listens as the Go tool's <c>:port</c>
/// does, on every interface, IPv4 and IPv6 (one dual-stack socket), unless <see cref="HealthOptions.BindAddress"/>
/// names one address (<c>127.0.0.1</c>, <c>::1</c>). A minimal
/// HTTP/1.1 responder on a TCP socket: a few read-only paths need no web framework, and this keeps the
/// Native AOT binary small and free of trim warnings. Also serves the Prometheus metrics at
/// <see cref="HealthOptions.MetricsPath"/> when given <paramref name="metrics"/>.
/// </summary>
internal sealed partial class HealthServer(HealthOptions options, HealthState state, ILogger<HealthServer> logger, HelperMetrics? metrics = null, HealthOutputs? outputs = null) : IAsyncDisposable
{
    /// <summary>
    /// Connections served at once. Further ones wait in the kernel's accept queue until a slot frees; each slot is held
    /// at most <see cref="RequestTimeout"/>, so idle connections cannot grow tasks and buffers without bound nor keep a
    /// fresh request waiting longer than that.
    /// </summary>
    public const int MaxConnections = 32;

    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private TcpListener? _listener;
    private Task? _loop;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _slots = new(MaxConnections, MaxConnections);
    private int _active;
    private int _peak;

    /// <summary>The most connections served at once so far.</summary>
    public int PeakConnections => Volatile.Read(ref _peak);

    public int Port => ((IPEndPoint)_listener!.LocalEndpoint).Port;

    public void Start()
    {
        var address = options.BindAddress ?? (Socket.OSSupportsIPv6 ? IPAddress.IPv6Any : IPAddress.Any);
        _listener = new TcpListener(address, options.BindPort);
        if (address.Equals(IPAddress.IPv6Any))
        {
            // [::] with IPV6_V6ONLY off also accepts IPv4 (as ::ffff:a.b.c.d), as Go's net.Listen("tcp", ":port").
            _listener.Server.DualMode = true;
        }

        _listener.Start();
        Log.Listening(logger, (IPEndPoint)_listener.LocalEndpoint, options.LivenessPath, options.ReadinessPath, metrics is null ? "off" : options.MetricsPath);
        _loop = AcceptAsync(_stop.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener?.Stop();
        if (_loop is not null)
        {
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
            }
        }

        _stop.Dispose();
    }

    /// <summary>The response for a request path: status code and JSON body.</summary>
    public (int Status, byte[] Body) Respond(string path)
    {
        var report = state.Report();
        bool ok;
        if (path == options.LivenessPath)
        {
            ok = report.Live;
        }
        else if (path == options.ReadinessPath)
        {
            ok = report.Ready;
        }
        else
        {
            return (404, Encoding.UTF8.GetBytes("{\"status\":\"not found\"}"));
        }

        return (ok ? 200 : 503, HealthBody.Write(ok, report, outputs));
    }

    private async Task AcceptAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                await _slots.WaitAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            try
            {
                socket = await _listener!.AcceptSocketAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                _slots.Release();
                return;
            }

            var active = Interlocked.Increment(ref _active);
            var peak = Volatile.Read(ref _peak);
            while (active > peak && Interlocked.CompareExchange(ref _peak, active, peak) != peak)
            {
                peak = Volatile.Read(ref _peak);
            }

            _ = ServeAndReleaseAsync(socket, cancellationToken);
        }
    }

    private async Task ServeAndReleaseAsync(Socket socket, CancellationToken cancellationToken)
    {
        try
        {
            await ServeAsync(socket, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
            _slots.Release();
        }
    }

    private async Task ServeAsync(Socket socket, CancellationToken cancellationToken)
    {
        using (socket)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(RequestTimeout);
                var buffer = new byte[4096];
                var received = 0;
                while (received < buffer.Length)
                {
                    var n = await socket.ReceiveAsync(buffer.AsMemory(received), timeout.Token);
                    if (n == 0)
                    {
                        break;
                    }

                    received += n;
                    if (buffer.AsSpan(0, received).IndexOf("\r\n\r\n"u8) >= 0)
                    {
                        break;
                    }
                }

                var requestLine = Encoding.ASCII.GetString(buffer, 0, received).Split("\r\n")[0].Split(' ');
                int status;
                byte[] body;
                var contentType = "application/json";
                if (requestLine.Length < 2 || requestLine[0] is not ("GET" or "HEAD"))
                {
                    (status, body) = (405, "{\"status\":\"method not allowed\"}"u8.ToArray());
                }
                else
                {
                    var path = requestLine[1].Split('?')[0];
                    if (metrics is not null && path == options.MetricsPath)
                    {
                        (status, body, contentType) = (200, Encoding.UTF8.GetBytes(metrics.Render()), PrometheusText.ContentType);
                    }
                    else
                    {
                        (status, body) = Respond(path);
                    }
                }

                var reason = status switch { 200 => "OK", 404 => "Not Found", 405 => "Method Not Allowed", _ => "Service Unavailable" };
                var head = Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
                await socket.SendAsync(head, timeout.Token);
                if (requestLine[0] != "HEAD")
                {
                    await socket.SendAsync(body, timeout.Token);
                }

                socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
            {
                Log.RequestFailed(logger, e.Message);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 401, Level = LogLevel.Information, Message = "Health listener on {EndPoint}: liveness {LivenessPath}, readiness {ReadinessPath}, metrics {MetricsPath}")]
        public static partial void Listening(ILogger logger, IPEndPoint endPoint, string livenessPath, string readinessPath, string metricsPath);

        [LoggerMessage(EventId = 402, Level = LogLevel.Debug, Message = "A health request failed: {Reason}")]
        public static partial void RequestFailed(ILogger logger, string reason);
    }
}
