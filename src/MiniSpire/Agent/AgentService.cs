using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MiniSpire.Agent.Cache;
using MiniSpire.Agent.Node;
using MiniSpire.Agent.Rotation;
using MiniSpire.Agent.Sync;
using MiniSpire.Config;

namespace MiniSpire.Agent;

/// <summary>
/// The agent's main loop: attest (or resume), then every sync interval renew the agent SVID when due and
/// sync entries, bundles and SVIDs. While the server is unreachable the cache keeps serving what is still
/// valid. If the server refuses the agent (evicted, unknown) or the agent SVID expires, the agent says so,
/// stops serving every identity and stops.
/// </summary>
internal sealed partial class AgentService(
    AgentOptions options,
    AgentNode node,
    EntrySyncer syncer,
    AgentCache cache,
    JwtSvidCache jwtSvids,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<AgentService> logger) : BackgroundService
{
    private readonly TaskCompletionSource _firstSync = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes after the first successful sync.</summary>
    public Task FirstSync => _firstSync.Task;

    /// <summary>Why the agent stopped itself; null while it runs or after a normal shutdown.</summary>
    public string? FailureReason { get; private set; }

    /// <summary>When the last sync succeeded; null before the first.</summary>
    public DateTimeOffset? LastSync { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!await AttestAsync(stoppingToken))
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await node.RenewIfDueAsync(stoppingToken);
                await syncer.SyncOnceAsync(stoppingToken);
                jwtSvids.Prune();
                LastSync = time.GetUtcNow();
                _firstSync.TrySetResult();
            }
            catch (Exception e) when (IsRefusal(e))
            {
                Fail(e is RpcException rpc ? $"the server refused this agent ({rpc.StatusCode}: {rpc.Status.Detail})" : e.Message);
                return;
            }
            catch (Exception e) when (e is RpcException or HttpRequestException && !stoppingToken.IsCancellationRequested)
            {
                cache.RemoveExpiredSvids(time.GetUtcNow());
                LogServerUnreachable(logger, options.ServerAddress, options.ServerPort, e.Message);
            }

            try
            {
                await Task.Delay(options.SyncInterval, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<bool> AttestAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await node.InitializeAsync(stoppingToken);
                return true;
            }
            catch (AgentNodeException e)
            {
                Fail(e.Message);
                return false;
            }
            catch (Exception e) when (e is RpcException or HttpRequestException && !stoppingToken.IsCancellationRequested)
            {
                LogServerUnreachable(logger, options.ServerAddress, options.ServerPort, e.Message);
                try
                {
                    await Task.Delay(options.SyncInterval, time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    return false;
                }
            }
        }

        return false;
    }

    private static bool IsRefusal(Exception e) =>
        e is AgentNodeException || (e is RpcException rpc && rpc.StatusCode is StatusCode.PermissionDenied or StatusCode.Unauthenticated);

    private void Fail(string reason)
    {
        LogCannotContinue(logger, reason);
        cache.Clear();
        FailureReason = reason;
        lifetime.StopApplication();
    }

    [LoggerMessage(EventId = 320, Level = LogLevel.Warning, Message = "The server at {Address}:{Port} is unreachable ({Reason}); still serving cached SVIDs while they are valid.")]
    private static partial void LogServerUnreachable(ILogger logger, string address, int port, string reason);

    [LoggerMessage(EventId = 321, Level = LogLevel.Critical, Message = "The agent cannot continue: {Reason}. It no longer serves any identity and is stopping.")]
    private static partial void LogCannotContinue(ILogger logger, string reason);
}
