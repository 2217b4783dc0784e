using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using SpiffeHelper.Config;
using SpiffeHelper.Metrics;

namespace SpiffeHelper.Reload;

/// <summary>
/// Signals the process whose pid is in <c>pid_file_name</c>, re-reading the file every time. The first attempt
/// is made at once on the caller's thread (a file read and <c>kill()</c>, microseconds), so the signal follows
/// the switch of the files without waiting for another thread to wake. A missing file, a bad pid or a dead
/// process is then retried in the background with backoff (1 s doubling to 30 s) until it works or a newer
/// renewal restarts the attempt, never blocking updates. The first failure of a series is a warning, repeats
/// are debug, recovery is information.
/// </summary>
internal sealed partial class PidFileSignaller(string pidFile, RenewSignal signal, TimeProvider time, ILogger<PidFileSignaller> logger, HelperMetrics? metrics = null)
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(30);

    // To the background loop: true asks for an attempt now (a renewal during retries), false hands over a
    // series whose first attempt just failed on the caller's thread (retry after the first backoff).
    private readonly Channel<bool> _requests = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    private readonly Lock _lock = new();
    private bool _retrying;

    /// <summary>Asks for a signal: sent before returning when nothing is being retried, else left to the retry loop.</summary>
    public void Request()
    {
        bool delivered;
        int pid;
        string reason;
        lock (_lock)
        {
            if (_retrying)
            {
                _requests.Writer.TryWrite(true);
                return;
            }

            delivered = TrySignal(out pid, out reason);
            if (!delivered)
            {
                _retrying = true;
                _requests.Writer.TryWrite(false);
            }
        }

        metrics?.SignalDelivery(HelperMetrics.PidFileTarget, delivered);
        if (delivered)
        {
            Log.Signalled(logger, signal.Name, pid, pidFile);
        }
        else
        {
            Log.FailedWillRetry(logger, signal.Name, pidFile, reason);
        }
    }

    /// <summary>The retry loop; runs until cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await _requests.Reader.WaitToReadAsync(cancellationToken))
            {
                _requests.Reader.TryRead(out var attemptNow);
                var delay = FirstRetry;
                var failures = attemptNow ? 0 : 1;
                while (true)
                {
                    if (attemptNow)
                    {
                        bool delivered;
                        int pid;
                        string reason;
                        lock (_lock)
                        {
                            delivered = TrySignal(out pid, out reason);
                            _retrying = !delivered;
                        }

                        metrics?.SignalDelivery(HelperMetrics.PidFileTarget, delivered);
                        if (delivered)
                        {
                            if (failures > 0)
                            {
                                Log.RecoveredAfterRetries(logger, signal.Name, pid, failures);
                            }
                            else
                            {
                                Log.Signalled(logger, signal.Name, pid, pidFile);
                            }

                            break;
                        }

                        failures++;
                        if (failures == 1)
                        {
                            Log.FailedWillRetry(logger, signal.Name, pidFile, reason);
                        }
                        else
                        {
                            Log.StillFailing(logger, signal.Name, pidFile, reason, failures);
                        }
                    }

                    // Wait for the backoff or a newer renewal, whichever comes first.
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    var delayTask = Task.Delay(delay, time, wait.Token);
                    var newer = _requests.Reader.WaitToReadAsync(wait.Token).AsTask();
                    await Task.WhenAny(delayTask, newer);
                    await wait.CancelAsync();
                    cancellationToken.ThrowIfCancellationRequested();
                    attemptNow = true;
                    if (_requests.Reader.TryRead(out _))
                    {
                        delay = FirstRetry;
                    }
                    else
                    {
                        delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetry.Ticks));
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private bool TrySignal(out int pid, out string reason)
    {
        pid = 0;
        string text;
        try
        {
            text = File.ReadAllText(pidFile).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = $"cannot read the pid file: {e.Message}";
            return false;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out pid) || pid <= 1)
        {
            reason = $"the pid file does not hold a valid pid (\"{(text.Length > 20 ? text[..20] + "..." : text)}\")";
            return false;
        }

        var errno = Posix.Kill(pid, signal.Number);
        if (errno != 0)
        {
            reason = errno == Posix.ESRCH ? $"no process with pid {pid}" : $"kill({pid}) failed with errno {errno}";
            return false;
        }

        reason = string.Empty;
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 311, Level = LogLevel.Information, Message = "Sent {Signal} to pid {Pid} from {PidFile}")]
        public static partial void Signalled(ILogger logger, string signal, int pid, string pidFile);

        [LoggerMessage(EventId = 312, Level = LogLevel.Warning, Message = "Could not send {Signal} to the process in {PidFile}: {Reason}; retrying in the background")]
        public static partial void FailedWillRetry(ILogger logger, string signal, string pidFile, string reason);

        [LoggerMessage(EventId = 313, Level = LogLevel.Debug, Message = "Still cannot send {Signal} to the process in {PidFile}: {Reason} (attempt {Attempt})")]
        public static partial void StillFailing(ILogger logger, string signal, string pidFile, string reason, int attempt);

        [LoggerMessage(EventId = 314, Level = LogLevel.Information, Message = "Sent {Signal} to pid {Pid} after {Failures} failed attempts")]
        public static partial void RecoveredAfterRetries(ILogger logger, string signal, int pid, int failures);
    }
}
