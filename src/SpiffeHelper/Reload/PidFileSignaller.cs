using System.Globalization;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using SpiffeHelper.Config;
using SpiffeHelper.Health;
using SpiffeHelper.Metrics;

namespace SpiffeHelper.Reload;

/// <summary>
/// Signals the process whose pid is in <c>pid_file_name</c>, re-reading the file every time, on its own loop so
/// that nothing about that file can hold up a write: <see cref="Request"/> only records that a signal is owed. The
/// file is read without blocking and only when it is a regular file of at most <see cref="MaxPidFileBytes"/> (a FIFO
/// or a link to <c>/dev/zero</c> is refused with its reason). A missing file, a bad pid or a dead process is retried
/// with backoff (1 s doubling to 30 s) until it works or a newer renewal restarts the attempt. While a signal is
/// owed, the <c>signal_undelivered</c> gauge is 1 and /ready's reason says why; /ready is 503 while the pid file is
/// unusable (not a small regular file, unreadable, no pid) or an attempt hangs, not while the application is
/// simply not running (no file, no such process: it reads the current files when it starts). The first
/// failure of a series is a warning, repeats are debug, recovery is information.
/// </summary>
internal sealed partial class PidFileSignaller(string pidFile, RenewSignal signal, TimeProvider time, ILogger<PidFileSignaller> logger, HelperMetrics? metrics = null, HealthState? health = null)
{
    /// <summary>A pid and a newline fit many times over; anything longer is not a pid file.</summary>
    public const int MaxPidFileBytes = 64;

    private static readonly TimeSpan FirstRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(30);

    // To the loop: a renewal asks for an attempt now.
    private readonly Channel<bool> _requests = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });

    /// <summary>Asks for a signal; returns at once, the attempt is made by <see cref="RunAsync"/>.</summary>
    public void Request()
    {
        health?.SignalOwed();
        metrics?.SignalUndelivered(HelperMetrics.PidFileTarget, true);
        _requests.Writer.TryWrite(true);
    }

    /// <summary>The signal loop; runs until cancelled.</summary>
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
                    var delivered = TrySignal(out var pid, out var reason, out var appAbsent);
                    metrics?.SignalDelivery(HelperMetrics.PidFileTarget, delivered);
                    if (delivered)
                    {
                        health?.SignalDelivered();
                        metrics?.SignalUndelivered(HelperMetrics.PidFileTarget, false);
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
                    health?.SignalFailed($"{signal.Name} to the process in pid_file_name \"{pidFile}\": {reason}", blocksReadiness: !appAbsent);
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
                    delay = _requests.Reader.TryRead(out _) ? FirstRetry : TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetry.Ticks));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    // appAbsent: the failure says the application is not running (no pid file, no such process); it reads the current files when it starts.
    private bool TrySignal(out int pid, out string reason, out bool appAbsent)
    {
        pid = 0;
        appAbsent = false;
        string text;
        try
        {
            text = Encoding.ASCII.GetString(Posix.ReadSmallRegularFile(pidFile, MaxPidFileBytes)).Trim();
        }
        catch (IOException e)
        {
            appAbsent = e.HResult == 2; // ENOENT
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
            appAbsent = errno == Posix.ESRCH;
            reason = appAbsent ? $"no process with pid {pid}" : $"kill({pid}) failed with errno {errno}";
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
