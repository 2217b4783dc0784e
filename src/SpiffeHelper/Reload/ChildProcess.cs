using System.Diagnostics;
using Microsoft.Extensions.Logging;
using SpiffeHelper.Config;
using SpiffeHelper.Metrics;

namespace SpiffeHelper.Reload;

/// <summary>
/// The application the helper launches (<c>cmd</c> with <c>cmd_args</c>, stdio inherited): started
/// after the first write, signalled with <c>renew_signal</c> after later ones, restarted per the
/// restart policy, and stopped (SIGTERM, grace period, then kill) when the helper stops.
/// </summary>
internal sealed partial class ChildProcess(HelperOptions options, TimeProvider time, ILogger<ChildProcess> logger, HelperMetrics? metrics = null) : IAsyncDisposable
{
    private static readonly TimeSpan MaxRestartDelay = TimeSpan.FromSeconds(30);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();
    private Process? _process;
    private Task? _exitWatcher;
    private TimeSpan _restartDelay = TimeSpan.FromSeconds(1);
    private bool _stopped;

    /// <summary>The running child's pid, or null.</summary>
    public int? Pid
    {
        get
        {
            var process = _process;
            return process is not null && !process.HasExited ? process.Id : null;
        }
    }

    /// <summary>After a successful switch: start the child the first time (or again, per policy), else signal it.</summary>
    public async Task OnRenewedAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_stopped)
            {
                return;
            }

            if (_process is null)
            {
                Start();
            }
            else if (_process.HasExited)
            {
                if (options.CmdRestartPolicy != RestartPolicy.Never)
                {
                    Start();
                }
            }
            else if (options.RenewSignal is { } signal)
            {
                var errno = Posix.Kill(_process.Id, signal.Number);
                if (errno == 0)
                {
                    Log.Signalled(logger, signal.Name, _process.Id);
                }
                else
                {
                    Log.SignalFailed(logger, signal.Name, _process.Id, errno);
                }

                metrics?.SignalDelivery(HelperMetrics.ChildTarget, errno == 0);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>SIGTERM to the child, up to cmd_stop_timeout for it to exit, then SIGKILL.</summary>
    public async Task StopAsync()
    {
        await _gate.WaitAsync();
        Process? process;
        try
        {
            _stopped = true;
            await _stopping.CancelAsync();
            process = _process;
        }
        finally
        {
            _gate.Release();
        }

        if (process is null || process.HasExited)
        {
            return;
        }

        Log.Stopping(logger, process.Id, options.CmdStopTimeout.TotalSeconds);
        _ = Posix.Kill(process.Id, 15);
        using var grace = new CancellationTokenSource(options.CmdStopTimeout, time);
        try
        {
            await process.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            Log.Killing(logger, process.Id);
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_exitWatcher is not null)
        {
            await _exitWatcher;
        }

        _process?.Dispose();
        _stopping.Dispose();
        _gate.Dispose();
    }

    private void Start()
    {
        var startInfo = new ProcessStartInfo(options.Cmd!) { UseShellExecute = false };
        foreach (var argument in options.CmdArgs)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var previous = _process;
        try
        {
            _process = Process.Start(startInfo) ?? throw new InvalidOperationException("the process did not start");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            Log.StartFailed(logger, options.Cmd!, e.Message);
            return;
        }

        if (previous is not null)
        {
            metrics?.ChildRestarted();
        }

        previous?.Dispose();
        Log.Started(logger, options.Cmd!, _process.Id);
        var process = _process;
        var started = time.GetUtcNow();
        _exitWatcher = WatchExitAsync(process, started);
    }

    private async Task WatchExitAsync(Process process, DateTimeOffset started)
    {
        try
        {
            await process.WaitForExitAsync(_stopping.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var code = process.ExitCode;
        Log.Exited(logger, process.Id, code);
        var restart = options.CmdRestartPolicy switch
        {
            RestartPolicy.Always => true,
            RestartPolicy.OnFailure => code != 0,
            _ => false,
        };
        if (!restart)
        {
            return;
        }

        // A child that ran a while earns a fresh backoff; one that dies at once waits longer each time.
        _restartDelay = time.GetUtcNow() - started > MaxRestartDelay ? TimeSpan.FromSeconds(1) : _restartDelay;
        var delay = _restartDelay;
        _restartDelay = TimeSpan.FromTicks(Math.Min(_restartDelay.Ticks * 2, MaxRestartDelay.Ticks));
        Log.Restarting(logger, options.Cmd!, delay.TotalSeconds);
        try
        {
            await Task.Delay(delay, time, _stopping.Token);
            await _gate.WaitAsync(_stopping.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        try
        {
            if (!_stopped && ReferenceEquals(_process, process))
            {
                Start();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Started {Command} (pid {Pid})")]
        public static partial void Started(ILogger logger, string command, int pid);

        [LoggerMessage(EventId = 302, Level = LogLevel.Error, Message = "Could not start {Command}: {Reason}")]
        public static partial void StartFailed(ILogger logger, string command, string reason);

        [LoggerMessage(EventId = 303, Level = LogLevel.Information, Message = "Sent {Signal} to the child process {Pid}")]
        public static partial void Signalled(ILogger logger, string signal, int pid);

        [LoggerMessage(EventId = 304, Level = LogLevel.Warning, Message = "Could not send {Signal} to the child process {Pid} (errno {Errno})")]
        public static partial void SignalFailed(ILogger logger, string signal, int pid, int errno);

        [LoggerMessage(EventId = 305, Level = LogLevel.Warning, Message = "The child process {Pid} exited with code {ExitCode}")]
        public static partial void Exited(ILogger logger, int pid, int exitCode);

        [LoggerMessage(EventId = 306, Level = LogLevel.Information, Message = "Restarting {Command} in {DelaySeconds:0.#} s")]
        public static partial void Restarting(ILogger logger, string command, double delaySeconds);

        [LoggerMessage(EventId = 307, Level = LogLevel.Information, Message = "Stopping the child process {Pid}: SIGTERM, then SIGKILL after {GraceSeconds:0.#} s")]
        public static partial void Stopping(ILogger logger, int pid, double graceSeconds);

        [LoggerMessage(EventId = 308, Level = LogLevel.Warning, Message = "The child process {Pid} did not exit in time; killing it")]
        public static partial void Killing(ILogger logger, int pid);
    }
}
