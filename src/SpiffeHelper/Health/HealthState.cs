using SpiffeHelper.Logging;

namespace SpiffeHelper.Health;

/// <summary>One health report: whether the helper is live and ready, and the JSON body to serve.</summary>
internal sealed record HealthReport(bool Live, bool Ready, IReadOnlyDictionary<string, string> FileWriteStatuses, string? Reason, DateTimeOffset? SvidNotAfter)
{
    /// <summary>The latest X.509 update refused since the last write (the files on disk are the previous ones); null when none.</summary>
    public RefusedUpdate? LastRefusedUpdate { get; init; }
}

/// <summary>An X.509 update that was not written: <see cref="Reason"/> is one of the bounded <see cref="RefusalReasons"/>.</summary>
internal sealed record RefusedUpdate(string Reason, string Message, DateTimeOffset At);

/// <summary>Why an X.509 update was refused: a small fixed set, used as a metric label and in /ready's body.</summary>
internal static class RefusalReasons
{
    public const string Expired = "expired";
    public const string NotYetValid = "not_yet_valid";
    public const string UntrustedChain = "untrusted_chain";
    public const string NoMatchingSvid = "no_matching_svid";
    public const string NoBundle = "no_bundle";

    public static IReadOnlyList<string> All { get; } = [Expired, NotYetValid, UntrustedChain, NoMatchingSvid, NoBundle];
}

/// <summary>
/// The one place that records what the helper did, read by the health listener. Ready only when every
/// configured file was written by the latest attempt, the SVID on disk is not expired, and the Workload
/// API has not refused this workload since (PermissionDenied: no registration entry matches it any more,
/// so no rotation will come), and the renewal signal owed to the pid file's process is neither failing on an
/// unusable pid file nor hanging longer than <see cref="SignalStuckAfter"/>; live unless the latest write of an
/// output failed (as the Go tool) or an update has been in progress longer than <see cref="StuckAfter"/>. A refused
/// update leaves readiness alone (the files on disk are still valid) and is reported as
/// <see cref="HealthReport.LastRefusedUpdate"/>.
/// </summary>
internal sealed class HealthState(IReadOnlyList<string> fileNames, TimeProvider time)
{
    public static readonly TimeSpan StuckAfter = TimeSpan.FromMinutes(2);

    public static readonly TimeSpan SignalStuckAfter = TimeSpan.FromSeconds(5);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, string> _statuses = fileNames.ToDictionary(n => n, _ => "not_written", StringComparer.Ordinal);
    private DateTimeOffset? _updateStarted;
    private DateTimeOffset? _svidNotAfter;
    private string? _lastError;
    private string? _identityRefused;
    private RefusedUpdate? _lastRefusal;
    private DateTimeOffset? _signalOwedSince;
    private string? _signalFailure;
    private bool _signalFailureBlocks;
    private string? _workloadApiUnreachable;

    // Outputs updated on their own schedule (JWT-SVIDs, the JWT bundle), registered with Track().
    private readonly Dictionary<string, OutputStatus> _outputs = new(StringComparer.Ordinal);

    private sealed record OutputStatus(string Status, DateTimeOffset? ExpiresAt, string? Error);

    /// <summary>Registers an output written independently of the X.509 files; not ready until written.</summary>
    public void Track(string name)
    {
        lock (_lock)
        {
            _outputs[name] = new OutputStatus("not_written", null, null);
        }
    }

    /// <summary>A tracked output was written; ready needs <paramref name="expiresAt"/> (if any) to be in the future.</summary>
    public void OutputWritten(string name, DateTimeOffset? expiresAt)
    {
        lock (_lock)
        {
            _outputs[name] = new OutputStatus("written", expiresAt, null);
        }
    }

    /// <summary>A tracked output could not be updated (<paramref name="status"/>: write_failed or rejected); the file on disk is the previous one.</summary>
    public void OutputFailed(string name, string status, string reason)
    {
        lock (_lock)
        {
            var previous = _outputs.GetValueOrDefault(name);
            _outputs[name] = new OutputStatus(status, previous?.ExpiresAt, $"{name}: {reason}");
        }
    }

    public void UpdateStarted()
    {
        lock (_lock)
        {
            _updateStarted = time.GetUtcNow();
        }
    }

    public void UpdateFinished()
    {
        lock (_lock)
        {
            _updateStarted = null;
        }
    }

    public void Written(DateTimeOffset svidNotAfter)
    {
        lock (_lock)
        {
            foreach (var name in _statuses.Keys.ToList())
            {
                _statuses[name] = "written";
            }

            _svidNotAfter = svidNotAfter;
            _lastError = null;
            _identityRefused = null;
            _lastRefusal = null;
            _workloadApiUnreachable = null;
        }
    }

    public void WriteFailed(string reason)
    {
        lock (_lock)
        {
            foreach (var name in _statuses.Keys.ToList())
            {
                _statuses[name] = "write_failed";
            }

            _lastError = "the last write failed: " + reason;
        }
    }

    /// <summary>The Workload API answered PermissionDenied: not ready until an SVID is written again. The files stay.</summary>
    public void IdentityRefused(string reason)
    {
        lock (_lock)
        {
            _identityRefused = "the Workload API refused this workload (PermissionDenied: " + reason + "): no registration entry matches it";
        }
    }

    /// <summary>
    /// The Workload API could not be reached (<paramref name="reason"/> names the socket and why). Readiness is
    /// unchanged (the files on disk stay valid until they expire); the reason is reported until it is reached again.
    /// </summary>
    public void WorkloadApiUnreachable(string reason)
    {
        lock (_lock)
        {
            _workloadApiUnreachable = reason;
        }
    }

    /// <summary>A message arrived from the Workload API again.</summary>
    public void WorkloadApiReached()
    {
        lock (_lock)
        {
            _workloadApiUnreachable = null;
        }
    }

    /// <summary>An X.509 update was not written; <paramref name="kind"/> is one of <see cref="RefusalReasons"/>.</summary>
    public void Rejected(string reason, string kind = RefusalReasons.UntrustedChain)
    {
        lock (_lock)
        {
            _lastError = "the last update was not written: " + reason;
            _lastRefusal = new RefusedUpdate(kind, reason, time.GetUtcNow());
        }
    }

    /// <summary>New files are on disk and the pid file's process is to be told.</summary>
    public void SignalOwed()
    {
        lock (_lock)
        {
            _signalOwedSince ??= time.GetUtcNow();
        }
    }

    /// <summary>
    /// The owed signal could not be sent; retried until delivered. <paramref name="blocksReadiness"/> is false when the
    /// application is not running (it reads the current files when it starts): the reason is then shown, ready stays.
    /// </summary>
    public void SignalFailed(string reason, bool blocksReadiness = true)
    {
        lock (_lock)
        {
            _signalOwedSince ??= time.GetUtcNow();
            _signalFailure = reason;
            _signalFailureBlocks = blocksReadiness;
        }
    }

    public void SignalDelivered()
    {
        lock (_lock)
        {
            _signalOwedSince = null;
            _signalFailure = null;
            _signalFailureBlocks = false;
        }
    }

    public HealthReport Report()
    {
        lock (_lock)
        {
            var now = time.GetUtcNow();
            var notStuck = _updateStarted is not { } started || now - started < StuckAfter;

            // As the Go tool: not live while the latest write of any output failed.
            var writeFailed = _statuses.ContainsValue("write_failed") || _outputs.Values.Any(o => o.Status == "write_failed");
            var live = notStuck && !writeFailed;
            var allWritten = _statuses.Values.All(s => s == "written");
            var notExpired = _statuses.Count == 0 || (_svidNotAfter is { } notAfter && notAfter > now);
            var failedOutput = _outputs.FirstOrDefault(o => o.Value.Status != "written");
            var expiredOutput = _outputs.FirstOrDefault(o => o.Value.ExpiresAt is { } expiresAt && expiresAt <= now);
            var signalNote = _signalOwedSince is not { } owedSince ? null
                : _signalFailure is not null ? $"the renewal signal owed since {Rfc3339.Format(owedSince)} was not delivered: {_signalFailure}; retrying"
                : now - owedSince > SignalStuckAfter ? $"the renewal signal owed since {Rfc3339.Format(owedSince)} is still being sent (stuck)"
                : null;
            var signalProblem = _signalFailure is not null && !_signalFailureBlocks ? null : signalNote;
            var reason = !notStuck ? "an update has been in progress since " + Rfc3339.Format(_updateStarted!.Value)
                : !allWritten ? _lastError ?? _identityRefused ?? (_workloadApiUnreachable is { } unreachable ? "no file written yet: " + unreachable : "no file written yet")
                : !notExpired ? "the SVID on disk has expired"
                : failedOutput.Key is not null ? failedOutput.Value.Error ?? $"{failedOutput.Key} not written yet"
                : expiredOutput.Key is not null ? $"the JWT-SVID in {expiredOutput.Key} has expired"
                : signalProblem ?? _identityRefused ?? _lastError ?? _workloadApiUnreachable ?? signalNote;
            var ready = live && allWritten && notExpired && failedOutput.Key is null && expiredOutput.Key is null && _identityRefused is null && signalProblem is null;
            var statuses = new Dictionary<string, string>(_statuses);
            foreach (var (name, output) in _outputs)
            {
                statuses[name] = output.Status;
            }

            return new HealthReport(live, ready, statuses, reason, _svidNotAfter) { LastRefusedUpdate = _lastRefusal };
        }
    }
}
