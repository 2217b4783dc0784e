using SpiffeHelper.Logging;

namespace SpiffeHelper.Health;

/// <summary>One health report: whether the helper is live and ready, and the JSON body to serve.</summary>
internal sealed record HealthReport(bool Live, bool Ready, IReadOnlyDictionary<string, string> FileWriteStatuses, string? Reason, DateTimeOffset? SvidNotAfter);

/// <summary>
/// The one place that records what the helper did, read by the health listener. Ready only when every
/// configured file was written by the latest attempt, the SVID on disk is not expired, and the Workload
/// API has not refused this workload since (PermissionDenied: no registration entry matches it any more,
/// so no rotation will come); live unless the latest write of an output failed (as the Go tool) or an update
/// has been in progress longer than <see cref="StuckAfter"/>.
/// </summary>
internal sealed class HealthState(IReadOnlyList<string> fileNames, TimeProvider time)
{
    public static readonly TimeSpan StuckAfter = TimeSpan.FromMinutes(2);

    private readonly Lock _lock = new();
    private readonly Dictionary<string, string> _statuses = fileNames.ToDictionary(n => n, _ => "not_written", StringComparer.Ordinal);
    private DateTimeOffset? _updateStarted;
    private DateTimeOffset? _svidNotAfter;
    private string? _lastError;
    private string? _identityRefused;
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

    public void Rejected(string reason)
    {
        lock (_lock)
        {
            _lastError = "the last update was not written: " + reason;
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
            var reason = !notStuck ? "an update has been in progress since " + Rfc3339.Format(_updateStarted!.Value)
                : !allWritten ? _lastError ?? _identityRefused ?? (_workloadApiUnreachable is { } unreachable ? "no file written yet: " + unreachable : "no file written yet")
                : !notExpired ? "the SVID on disk has expired"
                : failedOutput.Key is not null ? failedOutput.Value.Error ?? $"{failedOutput.Key} not written yet"
                : expiredOutput.Key is not null ? $"the JWT-SVID in {expiredOutput.Key} has expired"
                : _identityRefused ?? _lastError ?? _workloadApiUnreachable;
            var ready = live && allWritten && notExpired && failedOutput.Key is null && expiredOutput.Key is null && _identityRefused is null;
            var statuses = new Dictionary<string, string>(_statuses);
            foreach (var (name, output) in _outputs)
            {
                statuses[name] = output.Status;
            }

            return new HealthReport(live, ready, statuses, reason, _svidNotAfter);
        }
    }
}
