using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using SpiffeHelper.Config;
using SpiffeHelper.Metrics;

namespace SpiffeHelper.Reload;

/// <summary>
/// Signals the process whose pid is in <c>pid_file_name</c>, re-reading the file every time. Runs in
/// the background: a missing file, a bad pid or a dead process is retried with backoff (1 s doubling
/// to 30 s) until it works or a newer renewal restarts the attempt, never blocking updates. The
/// first failure of a series is a warning, repeats are debug, recovery is information.
/// </summary>
internal sealed partial class PidFileSignaller(string pidFile, RenewSignal signal, TimeProvider time, ILogger<PidFileSignaller> logger, HelperMetrics? metrics = null)
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(30);

    private readonly Channel<bool> _requests = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    /// <summary>Asks for a signal; returns at once.</summary>
    public void Request() => _requests.Writer.TryWrite(true);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (await _requests.Reader.WaitToReadAsync(cancellationToken))
            {
                _requests.Reader.TryRead(out _);
                var delay = FirstRetry;
                var failures = 0;
                while (true)
                {
                    var delivered = TrySignal(out var pid, out var reason);
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

                    // Wait for the backoff or a newer renewal, whichever comes first.
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    var delayTask = Task.Delay(delay, time, wait.Token);
                    var newer = _requests.Reader.WaitToReadAsync(wait.Token).AsTask();
                    await Task.WhenAny(delayTask, newer);
                    await wait.CancelAsync();
                    cancellationToken.ThrowIfCancellationRequested();
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
