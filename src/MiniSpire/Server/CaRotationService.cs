using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MiniSpire.Config;
using MiniSpire.Server.Ca;
using MiniSpire.Server.Datastore;

namespace MiniSpire.Server;

/// <summary>Runs the CA rotation and prunes expired join tokens, every 10 s (sooner for a short CA TTL).</summary>
internal sealed partial class CaRotationService : BackgroundService
{
    private readonly ServerCa _ca;
    private readonly SqliteDataStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<CaRotationService> _logger;
    private readonly TimeSpan _interval;

    public CaRotationService(ServerOptions options, ServerCa ca, SqliteDataStore store, TimeProvider time, ILogger<CaRotationService> logger)
    {
        _ca = ca;
        _store = store;
        _time = time;
        _logger = logger;
        _interval = Interval(options.CaTtl);
    }

    /// <summary>10 s as SPIRE, but at least 60 checks per CA lifetime (never below 100 ms).</summary>
    public static TimeSpan Interval(TimeSpan caTtl)
    {
        var interval = caTtl / 60;
        if (interval > TimeSpan.FromSeconds(10))
        {
            return TimeSpan.FromSeconds(10);
        }

        return interval < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : interval;
    }

    /// <summary>One pass; what the loop runs, callable from tests.</summary>
    internal async Task RunOnceAsync(CancellationToken ct)
    {
        await _ca.RotateAsync(ct);
        await _store.PruneJoinTokensAsync(_time.GetUtcNow().ToUnixTimeSeconds(), ct);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(_interval, _time, stoppingToken);
                await RunOnceAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogRotationFailed(e);
            }
        }
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Error, Message = "CA rotation pass failed; retrying at the next tick.")]
    private partial void LogRotationFailed(Exception exception);
}
