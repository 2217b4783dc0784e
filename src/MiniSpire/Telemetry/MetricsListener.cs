using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Prometheus;

namespace MiniSpire.Telemetry;

/// <summary>
/// Serves a prometheus-net registry as <c>GET /metrics</c> on its own plain-HTTP port (SPIRE's
/// <c>telemetry.Prometheus</c> listener). Requests on that port never reach the gRPC services, and
/// requests on the gRPC endpoints never reach the metrics.
/// </summary>
internal static class MetricsListener
{
    private const string ConnectionKey = "minispire.metrics";

    public static void AddTo(WebApplicationBuilder builder, PrometheusOptions options)
    {
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Parse(options.Host), options.Port, listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            listen.Use(next => connection =>
            {
                connection.Items[ConnectionKey] = true;
                return next(connection);
            });
        }));
    }

    /// <summary>Must run before any other middleware: it answers every request of the metrics port.</summary>
    public static void Use(WebApplication app, CollectorRegistry registry) => app.Use(async (context, next) =>
    {
        if (context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(ConnectionKey) != true)
        {
            await next(context);
            return;
        }

        if (context.Request.Path != "/metrics" || !(HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
        using var buffer = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(buffer, context.RequestAborted);
        context.Response.ContentLength = buffer.Length;
        if (HttpMethods.IsGet(context.Request.Method))
        {
            buffer.Position = 0;
            await buffer.CopyToAsync(context.Response.Body, context.RequestAborted);
        }
    });

    /// <summary>A registry with only MiniSpire's own metrics: no runtime, process, meter or event-counter collectors.</summary>
    public static CollectorRegistry NewRegistry()
    {
        lock (SuppressOnce)
        {
            if (!_suppressed)
            {
                Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions
                {
                    SuppressProcessMetrics = true,
                    SuppressEventCounters = true,
                    SuppressMeters = true,
                    SuppressDebugMetrics = true,
                });
                _suppressed = true;
            }
        }

        return Metrics.NewCustomRegistry();
    }

    private static readonly Lock SuppressOnce = new();
    private static bool _suppressed;
}
