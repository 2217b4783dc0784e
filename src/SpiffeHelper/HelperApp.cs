using Microsoft.Extensions.Logging;
using Spiffe.WorkloadApi;
using SpiffeHelper.Cli;
using SpiffeHelper.Config;
using SpiffeHelper.Delivery;
using SpiffeHelper.Health;
using SpiffeHelper.Logging;
using SpiffeHelper.Metrics;
using SpiffeHelper.Reload;

namespace SpiffeHelper;

/// <summary>What the program sees of the outside world; tests supply their own.</summary>
internal sealed record HelperEnvironment(
    Func<string, string?> Variables,
    string WorkingDirectory,
    TextWriter Out,
    TextWriter Error,
    TimeProvider Time,
    ILoggerFactory? LoggerFactory = null)
{
    public static HelperEnvironment Process() => new(
        Environment.GetEnvironmentVariable,
        Environment.CurrentDirectory,
        Console.Out,
        Console.Error,
        TimeProvider.System);
}

/// <summary>
/// The program: parses the command line, loads the config (exit 2 on any error, nothing started),
/// then runs daemon mode (until <c>stop</c>) or one-shot mode (until the first write or the timeout).
/// </summary>
internal static partial class HelperApp
{
    public static string Version => HelperVersion.Text;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, HelperEnvironment environment, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (!CommandLine.TryParse(args, out var arguments, out var argumentError))
        {
            // As Go's flag package: the error, the usage, exit code 2.
            await environment.Error.WriteLineAsync(argumentError);
            await environment.Error.WriteLineAsync(CommandLine.Usage);
            return ExitCodes.ConfigError;
        }

        if (arguments.ShowHelp)
        {
            await environment.Out.WriteLineAsync(CommandLine.Usage);
            return ExitCodes.Success;
        }

        if (arguments.ShowVersion)
        {
            await environment.Out.WriteLineAsync($"spiffe-helper {Version}");
            return ExitCodes.Success;
        }

        var configPath = Path.GetFullPath(arguments.ConfigFile, environment.WorkingDirectory);
        var loaded = ConfigLoader.Load(configPath, environment.Variables, arguments.DaemonMode, environment.WorkingDirectory);
        if (!loaded.Succeeded)
        {
            foreach (var error in loaded.Errors)
            {
                await environment.Error.WriteLineAsync($"spiffe-helper: config error: {error}");
            }

            await environment.Error.WriteLineAsync($"spiffe-helper: {loaded.Errors.Count} error(s) in {configPath}; nothing was started");
            return ExitCodes.ConfigError;
        }

        var options = loaded.Options!;
        var ownsFactory = environment.LoggerFactory is null;
        var loggerFactory = environment.LoggerFactory ?? CreateLoggerFactory(options, environment.Error, environment.Time);
        try
        {
            var startup = loggerFactory.CreateLogger("SpiffeHelper.Config");
            foreach (var warning in loaded.Warnings)
            {
                Log.ConfigWarning(startup, warning.ToString());
            }

            var choice = WriteStrategyChoice.Decide(options);
            if (choice.Reason is { } reason)
            {
                if (choice.IsWarning)
                {
                    Log.ConfigWarning(startup, reason);
                }
                else
                {
                    Log.WriteStrategyChosen(startup, reason);
                }
            }

            options = options with { WriteStrategy = choice.Strategy };

            if (arguments.Ignored.Count > 0)
            {
                Log.IgnoredArguments(loggerFactory.CreateLogger("SpiffeHelper"), string.Join(' ', arguments.Ignored), options.DaemonMode ? "daemon" : "one-shot");
            }
            return await RunAsync(options, environment, loggerFactory, stop);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var logger = loggerFactory.CreateLogger("SpiffeHelper");
            Log.Unexpected(logger, e);
            return ExitCodes.RuntimeFailure;
        }
        finally
        {
            if (ownsFactory)
            {
                loggerFactory.Dispose();
            }
        }
    }

    private static async Task<int> RunAsync(HelperOptions options, HelperEnvironment environment, ILoggerFactory loggerFactory, CancellationToken stop)
    {
        var logger = loggerFactory.CreateLogger("SpiffeHelper");
        var time = environment.Time;
        Log.Starting(logger, Version, options.DaemonMode ? "daemon" : "one-shot", options.AgentAddress.Text, options.CertDir, options.WriteStrategy);
        var writer = new FileSetWriter(options.CertDir, options.WriteStrategy, time);
        try
        {
            FileSetWriter.CreateDirectory(options.CertDir);
            if (!CertDirUsable(options, writer, logger))
            {
                return ExitCodes.RuntimeFailure;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.CertDirFailed(logger, options.CertDir, e.Message);
            return ExitCodes.RuntimeFailure;
        }

        var health = new HealthState(options.X509?.FileNames ?? [], time);
        var metrics = new HelperMetrics(Version, () => health.Report().Ready, time);
        using var client = new WorkloadApiClient(
            new WorkloadApiClientOptions
            {
                Address = options.AgentAddress,
                TimeProvider = time,
                OnFailure = failure =>
                {
                    metrics.WorkloadApiFailed(failure);
                    ReportRefusal(failure, health);
                },
                OnReconnected = rpc =>
                {
                    metrics.StreamReconnected(rpc);
                    health.WorkloadApiReached();
                },
            },
            loggerFactory.CreateLogger<WorkloadApiClient>());
        var jwtFailures = new JwtClientFailures();
        using var jwtClient = options.Jwt is null ? null : CreateJwtClient(options, loggerFactory, time, jwtFailures, metrics);
        JwtWorker? NewJwtWorker(Func<string, Task> onWritten)
        {
            if (jwtClient is null)
            {
                return null;
            }

            // JWT files change on their own schedule, so each is replaced alone, by rename, whatever write_strategy says.
            var jwtWorker = new JwtWorker(options, jwtClient, new FileSetWriter(options.CertDir, WriteStrategy.Rename, time), health, onWritten, time, loggerFactory.CreateLogger<JwtWorker>(), metrics);
            jwtFailures.Worker = jwtWorker;
            return jwtWorker;
        }

        if (!options.DaemonMode)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stop);
            deadline.CancelAfter(options.OneShotTimeout);
            var oneShot = options.X509 is null ? null : new X509Worker(options, client, writer, health, () => Task.CompletedTask, time, loggerFactory.CreateLogger<X509Worker>());
            var jwtOneShot = NewJwtWorker(_ => Task.CompletedTask);
            var outcomes = await Task.WhenAll(
                oneShot?.RunAsync(once: true, deadline.Token) ?? Task.FromResult(WorkerOutcome.Completed),
                jwtOneShot?.RunAsync(once: true, deadline.Token) ?? Task.FromResult(WorkerOutcome.Completed));
            var outcome = outcomes.Contains(WorkerOutcome.FatalWorkloadApiError) ? WorkerOutcome.FatalWorkloadApiError
                : outcomes.Contains(WorkerOutcome.TimedOutWaiting) ? WorkerOutcome.TimedOutWaiting
                : outcomes.Contains(WorkerOutcome.TimedOutWriting) ? WorkerOutcome.TimedOutWriting
                : WorkerOutcome.Completed;
            if (stop.IsCancellationRequested)
            {
                Log.StoppedBySignal(logger);
                return ExitCodes.Success;
            }

            switch (outcome)
            {
                case WorkerOutcome.Completed:
                    Log.OneShotDone(logger, options.CertDir);
                    return ExitCodes.Success;
                case WorkerOutcome.TimedOutWaiting:
                    Log.OneShotTimedOut(logger, options.OneShotTimeout.TotalSeconds, options.AgentAddress.Text);
                    return ExitCodes.OneShotTimeout;
                case WorkerOutcome.TimedOutWriting:
                    Log.OneShotWriteFailed(logger, options.OneShotTimeout.TotalSeconds, options.CertDir);
                    return ExitCodes.OneShotWriteFailed;
                default:
                    return ExitCodes.RuntimeFailure;
            }
        }

        await using var child = new ChildProcess(options, time, loggerFactory.CreateLogger<ChildProcess>(), metrics);
        PidFileSignaller? pidSignaller = options.PidFileName is { } pidFile && options.RenewSignal is { } signal
            ? new PidFileSignaller(pidFile, signal, time, loggerFactory.CreateLogger<PidFileSignaller>(), metrics, health)
            : null;
        using var background = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var pidTask = pidSignaller?.RunAsync(background.Token) ?? Task.CompletedTask;
        HealthServer? healthServer = null;
        try
        {
            if (options.Health.Enabled)
            {
                healthServer = new HealthServer(
                    options.Health,
                    health,
                    loggerFactory.CreateLogger<HealthServer>(),
                    options.Health.MetricsPath.Length > 0 ? metrics : null,
                    new HealthOutputs(options.X509?.FileNames ?? [], options.CertDir));
                try
                {
                    healthServer.Start();
                }
                catch (System.Net.Sockets.SocketException e)
                {
                    Log.HealthListenerFailed(logger, options.Health.BindPort, e.Message);
                    healthServer = null;
                    return ExitCodes.RuntimeFailure;
                }
            }

            async Task OnWritten()
            {
                if (options.Cmd is not null)
                {
                    await child.OnRenewedAsync();
                }

                pidSignaller?.Request();
            }

            const string X509Output = "x509";
            var notifier = new UpdateNotifier([.. options.X509 is null ? Array.Empty<string>() : [X509Output], .. options.Jwt?.FileNames ?? []], OnWritten);
            using var workersStop = CancellationTokenSource.CreateLinkedTokenSource(stop);
            var worker = options.X509 is null ? null : new X509Worker(options, client, writer, health, () => notifier.WrittenAsync(X509Output, notifies: true), time, loggerFactory.CreateLogger<X509Worker>(), metrics);
            var jwtWorker = NewJwtWorker(name => notifier.WrittenAsync(name, options.Jwt!.SignalOnUpdate));
            var running = new[] { worker?.RunAsync(once: false, workersStop.Token), jwtWorker?.RunAsync(once: false, workersStop.Token) }.OfType<Task<WorkerOutcome>>().ToList();

            // Either worker ending before the stop means the Workload API refused for good: stop the other too.
            await Task.WhenAny(running);
            await workersStop.CancelAsync();
            var outcomes = await Task.WhenAll(running);
            if (outcomes.Contains(WorkerOutcome.FatalWorkloadApiError))
            {
                return ExitCodes.RuntimeFailure;
            }

            Log.StoppedBySignal(logger);
            return ExitCodes.Success;
        }
        finally
        {
            await background.CancelAsync();
            await pidTask;
            await child.StopAsync();
            if (healthServer is not null)
            {
                await healthServer.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// The JWT output's own Workload API connection, so that a JWT bundle update the client drops as invalid
    /// (reported through OnFailure) marks the JWT output not ready without touching the X.509 client.
    /// </summary>
    private static WorkloadApiClient CreateJwtClient(HelperOptions options, ILoggerFactory loggerFactory, TimeProvider time, JwtClientFailures sink, HelperMetrics metrics) => new WorkloadApiClient(
            new WorkloadApiClientOptions
            {
                Address = options.AgentAddress,
                TimeProvider = time,
                OnFailure = failure =>
                {
                    metrics.WorkloadApiFailed(failure);
                    sink.Report(failure);
                },
                OnReconnected = metrics.StreamReconnected,
            },
            loggerFactory.CreateLogger<WorkloadApiClient>());

    private sealed class JwtClientFailures
    {
        public JwtWorker? Worker { get; set; }

        public void Report(WorkloadApiFailure failure)
        {
            if (failure.Rpc == "FetchJWTBundles" && failure.Kind == WorkloadApiFailureKind.InvalidResponse)
            {
                Worker?.BundleUpdateRejected(failure.Exception.Message);
            }
        }
    }

    /// <summary>
    /// Before anything is written: refuses a cert_dir layout the write strategy would write through or fail on (every
    /// problem logged, naming its path), then removes the temp files and generations a killed run left.
    /// </summary>
    private static bool CertDirUsable(HelperOptions options, FileSetWriter writer, ILogger logger)
    {
        var files = (options.X509?.FileNames ?? []).Concat(options.Jwt?.FileNames ?? []).Where(n => n != options.X509?.TrustBundlesDirName);
        var problems = writer.CheckLayout(files, options.X509?.TrustBundlesDirName is { } folder ? [folder] : []);
        foreach (var problem in problems)
        {
            Log.CertDirLayoutRefused(logger, options.CertDir, problem);
        }

        if (problems.Count > 0)
        {
            return false;
        }

        foreach (var leftover in writer.RemoveLeftovers())
        {
            Log.LeftoverRemoved(logger, leftover);
        }

        return true;
    }

    /// <summary>
    /// PermissionDenied means no registration entry matches this workload: readiness says so. Unavailable (no
    /// socket, nothing listening) is reported as the reason, naming the socket path.
    /// </summary>
    private static void ReportRefusal(WorkloadApiFailure failure, HealthState health)
    {
        if (failure.StatusCode == Grpc.Core.StatusCode.PermissionDenied)
        {
            health.IdentityRefused(failure.Exception is Grpc.Core.RpcException e ? e.Status.Detail : failure.Exception.Message);
        }
        else if (failure.StatusCode == Grpc.Core.StatusCode.Unavailable)
        {
            health.WorkloadApiUnreachable(failure.Reason);
        }
    }

    private static LoggerFactory CreateLoggerFactory(HelperOptions options, TextWriter error, TimeProvider time) => new(
        [new StandardErrorLoggerProvider(error, options.LogFormat, time)],
        new LoggerFilterOptions { MinLevel = options.LogLevel });

    private static partial class Log
    {
        [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "spiffe-helper {Version} starting in {Mode} mode: Workload API {Address}, files in {CertDir} ({Strategy})")]
        public static partial void Starting(ILogger logger, string version, string mode, string address, string certDir, WriteStrategy strategy);

        [LoggerMessage(EventId = 102, Level = LogLevel.Critical, Message = "Cannot create cert_dir {CertDir}: {Reason}")]
        public static partial void CertDirFailed(ILogger logger, string certDir, string reason);

        [LoggerMessage(EventId = 103, Level = LogLevel.Information, Message = "Stopped; exiting")]
        public static partial void StoppedBySignal(ILogger logger);

        [LoggerMessage(EventId = 104, Level = LogLevel.Information, Message = "One-shot mode: the files are in {CertDir}; exiting")]
        public static partial void OneShotDone(ILogger logger, string certDir);

        [LoggerMessage(EventId = 105, Level = LogLevel.Critical, Message = "One-shot mode: no valid X.509 SVID within {TimeoutSeconds:0.#} s from {Address} (exit code 3)")]
        public static partial void OneShotTimedOut(ILogger logger, double timeoutSeconds, string address);

        [LoggerMessage(EventId = 107, Level = LogLevel.Critical, Message = "Cannot listen for health checks on port {Port}: {Reason}; set health_checks.bind_port to a free port")]
        public static partial void HealthListenerFailed(ILogger logger, int port, string reason);

        [LoggerMessage(EventId = 108, Level = LogLevel.Critical, Message = "Unexpected failure; exiting")]
        public static partial void Unexpected(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 109, Level = LogLevel.Warning, Message = "Config warning: {Warning}")]
        public static partial void ConfigWarning(ILogger logger, string warning);

        [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "{Reason}")]
        public static partial void WriteStrategyChosen(ILogger logger, string reason);

        [LoggerMessage(EventId = 131, Level = LogLevel.Critical, Message = "cert_dir {CertDir} cannot be used as it is: {Problem}; nothing was written")]
        public static partial void CertDirLayoutRefused(ILogger logger, string certDir, string problem);

        [LoggerMessage(EventId = 132, Level = LogLevel.Information, Message = "Removed {Path}, left by an earlier run stopped in the middle of a write")]
        public static partial void LeftoverRemoved(ILogger logger, string path);

        [LoggerMessage(EventId = 133, Level = LogLevel.Warning, Message = "Ignoring the command-line arguments after the flags: {Arguments} (the Go tool ignores them too); running in {Mode} mode. A boolean flag takes its value after \"=\": write -daemon-mode=false, not -daemon-mode false")]
        public static partial void IgnoredArguments(ILogger logger, string arguments, string mode);

        [LoggerMessage(EventId = 106, Level = LogLevel.Critical, Message = "One-shot mode: could not write the files to {CertDir} within {TimeoutSeconds:0.#} s (exit code 4)")]
        public static partial void OneShotWriteFailed(ILogger logger, double timeoutSeconds, string certDir);
    }
}
