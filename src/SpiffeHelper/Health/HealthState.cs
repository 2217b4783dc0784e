namespace SpiffeHelper.Health;

/// <summary>One health report: whether the helper is live and ready, and the JSON body to serve.</summary>
internal sealed record HealthReport(bool Live, bool Ready, IReadOnlyDictionary<string, string> FileWriteStatuses, string? Reason, DateTimeOffset? SvidNotAfter);

/// <summary>
/// The one place that records what the helper did, read by the health listener. Ready only when every
/// configured file was written by the latest attempt, the SVID on disk is not expired, and the Workload
/// API has not refused this workload since (PermissionDenied: no registration entry matches it any more,
/// so no rotation will come); live unless an update has been in progress longer than <see cref="StuckAfter"/>.
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
            var live = _updateStarted is not { } started || now - started < StuckAfter;
            var allWritten = _statuses.Values.All(s => s == "written");
            var notExpired = _svidNotAfter is { } notAfter && notAfter > now;
            var reason = !live ? "an update has been in progress since " + _updateStarted!.Value.ToString("O")
                : !allWritten ? _lastError ?? _identityRefused ?? "no file written yet"
                : !notExpired ? "the SVID on disk has expired"
                : _identityRefused ?? _lastError;
            return new HealthReport(live, live && allWritten && notExpired && _identityRefused is null, new Dictionary<string, string>(_statuses), reason, _svidNotAfter);
        }
    }
}
