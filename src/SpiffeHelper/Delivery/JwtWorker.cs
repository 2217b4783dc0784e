using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Spiffe;
using Spiffe.Jwt;
using Spiffe.WorkloadApi;
using SpiffeHelper.Config;
using SpiffeHelper.Health;
using SpiffeHelper.Metrics;

namespace SpiffeHelper.Delivery;

/// <summary>
/// The JWT output. The JWT bundle is watched and written on every update; each configured JWT-SVID is
/// fetched for its audiences, validated against the latest accepted JWT bundle (<see cref="JwtFiles"/>),
/// written by rename with its mode, and fetched again after about half of its remaining life (with
/// jitter). A failure keeps the previous file, marks the output not ready, and is retried with backoff
/// (1 s doubling to 60 s). Every outcome of every output passes through <see cref="Succeeded"/> or
/// <see cref="Failed"/>: the one place to observe JWT delivery (health, logs, metrics).
/// </summary>
internal sealed partial class JwtWorker
{
    public static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(60);

    private readonly HelperOptions _options;
    private readonly JwtOutputOptions _jwt;
    private readonly WorkloadApiClient _client;
    private readonly FileSetWriter _writer;
    private readonly HealthState _health;
    private readonly Func<string, Task> _onWritten;
    private readonly TimeProvider _time;
    private readonly ILogger<JwtWorker> _logger;
    private readonly HelperMetrics? _metrics;
    private readonly Lock _lock = new();
    private JwtBundleSet? _bundles;
    private TaskCompletionSource _bundlesChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private const string FetchFailed = "fetch_failed";
    private const string WriteFailedStatus = "write_failed";
    private readonly ConcurrentDictionary<string, bool> _validated = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _written = new(StringComparer.Ordinal);

    /// <summary>Creates the worker and registers its outputs with <paramref name="health"/>; <paramref name="onWritten"/> gets the file name after every successful write.</summary>
    public JwtWorker(HelperOptions options, WorkloadApiClient client, FileSetWriter writer, HealthState health, Func<string, Task> onWritten, TimeProvider time, ILogger<JwtWorker> logger, HelperMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(health);
        _options = options;
        _jwt = options.Jwt ?? throw new ArgumentException("no JWT output is configured", nameof(options));
        _client = client;
        _writer = writer;
        _health = health;
        _onWritten = onWritten;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        metrics?.TrackJwtOutputs(_jwt.BundleFileName is not null);
        foreach (var name in _jwt.FileNames)
        {
            health.Track(name);
        }
    }

    /// <summary>The name the JWT bundle's health status is reported under when no bundle file is written.</summary>
    private string BundleOutputName => _jwt.BundleFileName ?? "jwt_bundle";

    /// <summary>
    /// A JWT bundle update the Workload API client dropped as invalid (for example a JWKS with an
    /// unsupported key): the previous bundle file stays and the output is not ready until a valid one arrives.
    /// </summary>
    public void BundleUpdateRejected(string reason) => Failed(BundleOutputName, "rejected", reason, audience: null);

    /// <summary>Runs until cancelled (daemon) or until every output was written once (<paramref name="once"/>).</summary>
    public async Task<WorkerOutcome> RunAsync(bool once, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        List<Task> tasks = [RunBundleAsync(once, stop.Token), .. _jwt.Svids.Select(s => RunSvidAsync(s, once, stop.Token))];
        var pending = tasks.ToList();
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending);
            pending.Remove(done);
            if (done.IsFaulted)
            {
                await stop.CancelAsync();
            }
        }

        var fatal = tasks.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException).OfType<RpcException>().FirstOrDefault();
        if (fatal is not null)
        {
            Log.Fatal(_logger, _client.Address.Text, fatal.StatusCode, fatal.Status.Detail);
            return WorkerOutcome.FatalWorkloadApiError;
        }

        if (tasks.FirstOrDefault(t => t.IsFaulted) is { } failed)
        {
            await failed;
        }

        if (cancellationToken.IsCancellationRequested && once)
        {
            // Exit code 4 only when everything valid arrived and a write failed; anything still awaiting valid content is exit code 3.
            var allValidated = _validated.ContainsKey(BundleOutputName) && _jwt.Svids.All(s => _validated.ContainsKey(s.FileName));
            return allValidated ? WorkerOutcome.TimedOutWriting : WorkerOutcome.TimedOutWaiting;
        }

        return WorkerOutcome.Completed;
    }

    private async Task RunBundleAsync(bool once, CancellationToken cancellationToken)
    {
        try
        {
            var own = await OwnTrustDomainAsync(cancellationToken);
            await foreach (var bundles in _client.WatchJwtBundlesAsync(cancellationToken))
            {
                if (await DeliverBundleAsync(bundles, own, cancellationToken) && once)
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException && cancellationToken.IsCancellationRequested)
        {
            // Stopped: a call cut short by the stop ends as Cancelled, not as a failure.
        }
    }

    /// <summary>Validates, writes (when a file is configured) and adopts a JWT bundle set; retries a failed write with backoff.</summary>
    private async Task<bool> DeliverBundleAsync(JwtBundleSet bundles, TrustDomain own, CancellationToken cancellationToken)
    {
        try
        {
            JwtFiles.CheckBundles(bundles, own);
        }
        catch (JwtOutputException e)
        {
            Failed(BundleOutputName, "rejected", e.Message, audience: null);
            return false;
        }

        _validated[BundleOutputName] = true;
        SetBundles(bundles);
        if (_jwt.BundleFileName is not { } fileName)
        {
            Succeeded(BundleOutputName, expiresAt: null, audience: null, subject: null);
            return true;
        }

        var content = new FileContent(fileName, JwtFiles.BundleFile(bundles, own, _jwt.BundleFormat), _jwt.BundleFileMode, IsSecret: false);
        var retry = FirstRetry;
        while (true)
        {
            try
            {
                _writer.Write([content]);
                Succeeded(fileName, expiresAt: null, audience: null, subject: null);
                await _onWritten(fileName);
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Failed(fileName, WriteFailedStatus, e.Message, audience: null);
            }

            // A newer bundle arriving meanwhile is picked up after this one is written: bundles only grow stale slowly.
            await Task.Delay(retry, _time, cancellationToken);
            retry = Next(retry);
        }
    }

    private async Task RunSvidAsync(JwtSvidOutput output, bool once, CancellationToken cancellationToken)
    {
        var retry = FirstRetry;
        try
        {
            while (true)
            {
                var bundles = await BundlesAsync(cancellationToken);
                if (await DeliverSvidAsync(output, bundles, cancellationToken) is { } expiry)
                {
                    if (once)
                    {
                        return;
                    }

                    retry = FirstRetry;
                    await Task.Delay(RefreshDelay(expiry), _time, cancellationToken);
                }
                else
                {
                    await Task.Delay(retry, _time, cancellationToken);
                    retry = Next(retry);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException && cancellationToken.IsCancellationRequested)
        {
            // Stopped: a call cut short by the stop ends as Cancelled, not as a failure.
        }
    }

    /// <summary>Fetches, validates and writes one JWT-SVID; its expiry when written, null when not (already reported).</summary>
    private async Task<DateTimeOffset?> DeliverSvidAsync(JwtSvidOutput output, JwtBundleSet bundles, CancellationToken cancellationToken)
    {
        IReadOnlyList<JwtSvid> received;
        try
        {
            received = await _client.FetchJwtSvidsAsync(output.Audiences, null, cancellationToken);
        }
        catch (RpcException e) when (WorkloadApiClient.IsRetryable(e.StatusCode) && !cancellationToken.IsCancellationRequested)
        {
            Failed(output.FileName, FetchFailed, $"the Workload API at {_client.Address.Text} answered {e.StatusCode}: {e.Status.Detail}", output.Audience);
            return null;
        }
        catch (WorkloadApiResponseException e)
        {
            Failed(output.FileName, "rejected", e.Message, output.Audience);
            return null;
        }

        JwtSvid svid;
        try
        {
            svid = JwtFiles.Validate(received, _options.Hint, output, bundles, _time);
        }
        catch (JwtOutputException e)
        {
            Failed(output.FileName, "rejected", e.Message, output.Audience);
            return null;
        }

        _validated[output.FileName] = true;
        var content = new FileContent(output.FileName, JwtFiles.TokenFile(svid), _jwt.SvidFileMode, IsSecret: true);
        try
        {
            _writer.Write([content]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Failed(output.FileName, WriteFailedStatus, e.Message, output.Audience);
            return null;
        }
        finally
        {
            Array.Clear(content.Bytes);
        }

        Succeeded(output.FileName, svid.Expiry, output.Audience, svid.Id);
        await _onWritten(output.FileName);
        return svid.Expiry;
    }

    /// <summary>The one place a JWT output is recorded as written. <paramref name="audience"/> is null for the bundle.</summary>
    private void Succeeded(string output, DateTimeOffset? expiresAt, string? audience, SpiffeId? subject)
    {
        _written[output] = true;
        _health.OutputWritten(output, expiresAt);
        if (audience is null)
        {
            _metrics?.OutputWritten(HelperMetrics.JwtBundleOutput);
            Log.BundleWritten(_logger, output);
        }
        else
        {
            _metrics?.JwtSvidWritten(audience, expiresAt!.Value);
            Log.SvidWritten(_logger, subject!, audience, output, expiresAt!.Value);
        }
    }

    /// <summary>The one place a JWT output is recorded as not updated; the previous file stays. Never given a token or key.</summary>
    private void Failed(string output, string status, string reason, string? audience)
    {
        // The agent being briefly unreachable is not bad input: a file already written stays ready until
        // it expires (HealthState checks expiry); only what was received and refused, or not writable, is not ready.
        if (status != FetchFailed || !_written.ContainsKey(output))
        {
            _health.OutputFailed(output, status, reason);
        }

        if (status == WriteFailedStatus)
        {
            _metrics?.WriteFailed(audience is null ? HelperMetrics.JwtBundleOutput : HelperMetrics.JwtSvidOutput);
        }

        if (audience is null)
        {
            Log.BundleFailed(_logger, output, reason);
        }
        else
        {
            Log.SvidFailed(_logger, audience, output, reason);
        }
    }

    /// <summary>About half of the remaining life, jittered by ±10 % so that many helpers do not ask at once; at least 1 s.</summary>
    private TimeSpan RefreshDelay(DateTimeOffset expiry)
    {
        var half = (expiry - _time.GetUtcNow()) / 2;
        var jittered = half * (0.9 + (0.2 * Random.Shared.NextDouble()));
        return jittered < FirstRetry ? FirstRetry : jittered;
    }

    private static TimeSpan Next(TimeSpan retry) => TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, MaxRetry.Ticks));

    /// <summary>
    /// The trust domain of the workload's default (or hinted) X.509 SVID: the one whose JWT bundle must be
    /// usable and is written in the "jwks" format. Retried like any watch until the agent answers.
    /// </summary>
    private async Task<TrustDomain> OwnTrustDomainAsync(CancellationToken cancellationToken)
    {
        var retry = FirstRetry;
        while (true)
        {
            try
            {
                using var context = await _client.FetchX509ContextAsync(cancellationToken);
                return (context.FindSvid(_options.Hint) ?? context.DefaultSvid).Id.TrustDomain;
            }
            catch (RpcException e) when (WorkloadApiClient.IsRetryable(e.StatusCode) && !cancellationToken.IsCancellationRequested)
            {
                Failed(BundleOutputName, FetchFailed, $"cannot learn the own trust domain: the Workload API at {_client.Address.Text} answered {e.StatusCode}: {e.Status.Detail}", audience: null);
            }
            catch (WorkloadApiResponseException e)
            {
                Failed(BundleOutputName, FetchFailed, $"cannot learn the own trust domain: {e.Message}", audience: null);
            }

            await Task.Delay(retry, _time, cancellationToken);
            retry = Next(retry);
        }
    }

    private void SetBundles(JwtBundleSet bundles)
    {
        TaskCompletionSource changed;
        lock (_lock)
        {
            _bundles = bundles;
            changed = _bundlesChanged;
            _bundlesChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
    }

    private async Task<JwtBundleSet> BundlesAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                if (_bundles is { } bundles)
                {
                    return bundles;
                }

                changed = _bundlesChanged.Task;
            }

            await changed.WaitAsync(cancellationToken);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 321, Level = LogLevel.Information, Message = "Wrote the JWT-SVID of {SpiffeId} for audience {Audience} to {File} (expires {Expiry})")]
        public static partial void SvidWritten(ILogger logger, SpiffeId spiffeId, string audience, string file, DateTimeOffset expiry);

        [LoggerMessage(EventId = 322, Level = LogLevel.Error, Message = "The JWT-SVID for audience {Audience} was not written to {File}: {Reason}; the previous file is unchanged; retrying")]
        public static partial void SvidFailed(ILogger logger, string audience, string file, string reason);

        [LoggerMessage(EventId = 323, Level = LogLevel.Information, Message = "Wrote the JWT bundle to {File}")]
        public static partial void BundleWritten(ILogger logger, string file);

        [LoggerMessage(EventId = 324, Level = LogLevel.Error, Message = "The JWT bundle was not written to {File}: {Reason}; the previous file is unchanged")]
        public static partial void BundleFailed(ILogger logger, string file, string reason);

        [LoggerMessage(EventId = 325, Level = LogLevel.Critical, Message = "The Workload API at {Address} refused a JWT request for good ({StatusCode}: {Detail}); check that agent_address points at a SPIFFE Workload API (a SPIRE agent's socket)")]
        public static partial void Fatal(ILogger logger, string address, StatusCode statusCode, string detail);
    }
}
