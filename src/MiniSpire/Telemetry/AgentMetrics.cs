using Grpc.Core;
using Grpc.Core.Interceptors;
using MiniSpire.Agent;
using MiniSpire.Agent.Cache;
using Prometheus;

namespace MiniSpire.Telemetry;

/// <summary>The agent's metrics: Workload API calls by RPC and status, cache size, and how fresh the last sync with the server is.</summary>
internal sealed class AgentMetrics
{
    private readonly Counter _workloadApiCalls;

    public AgentMetrics(AgentCache cache, AgentService service, TimeProvider time)
    {
        Registry = MetricsListener.NewRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _workloadApiCalls = factory.CreateCounter("minispire_agent_workload_api_calls_total", "Finished Workload API calls by RPC and gRPC status (a watch ends Cancelled when its client leaves).", "rpc", "code");
        var entries = factory.CreateGauge("minispire_agent_cache_entries", "Registration entries the agent holds for its workloads.");
        var svids = factory.CreateGauge("minispire_agent_cache_x509_svids", "X509-SVIDs in the agent's cache.");
        var lastSync = factory.CreateGauge("minispire_agent_last_sync_timestamp_seconds", "When the agent last synced with the server, in seconds since the epoch.", new GaugeConfiguration { SuppressInitialValue = true });
        var lag = factory.CreateGauge("minispire_agent_sync_lag_seconds", "Seconds since the agent last synced with the server.", new GaugeConfiguration { SuppressInitialValue = true });
        Registry.AddBeforeCollectCallback(() =>
        {
            var state = cache.Current;
            entries.Set(state.Entries.Count);
            svids.Set(state.Svids.Count);
            if (service.LastSync is { } at)
            {
                lastSync.Set(at.ToUnixTimeMilliseconds() / 1000.0);
                lag.Set(Math.Max(0, (time.GetUtcNow() - at).TotalSeconds));
            }
        });
    }

    public CollectorRegistry Registry { get; }

    public void WorkloadApiCallFinished(string method, StatusCode code)
    {
        // "/SpiffeWorkloadAPI/FetchX509SVID" -> "FetchX509SVID": the service's fixed set of methods.
        var rpc = method[(method.LastIndexOf('/') + 1)..];
        _workloadApiCalls.WithLabels(rpc, code.ToString()).Inc();
    }
}

/// <summary>Counts every Workload API call when it finishes, with the status it finished with.</summary>
internal sealed class WorkloadApiMetricsInterceptor(AgentMetrics metrics) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        try
        {
            var response = await continuation(request, context);
            metrics.WorkloadApiCallFinished(context.Method, StatusCode.OK);
            return response;
        }
        catch (Exception e)
        {
            metrics.WorkloadApiCallFinished(context.Method, CodeOf(e, context));
            throw;
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        try
        {
            await continuation(request, responseStream, context);
            metrics.WorkloadApiCallFinished(context.Method, context.CancellationToken.IsCancellationRequested ? StatusCode.Cancelled : StatusCode.OK);
        }
        catch (Exception e)
        {
            metrics.WorkloadApiCallFinished(context.Method, CodeOf(e, context));
            throw;
        }
    }

    private static StatusCode CodeOf(Exception e, ServerCallContext context) => e switch
    {
        RpcException rpc => rpc.StatusCode,
        OperationCanceledException or IOException when context.CancellationToken.IsCancellationRequested => StatusCode.Cancelled,
        _ => StatusCode.Unknown,
    };
}
