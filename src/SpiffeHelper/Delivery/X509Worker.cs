using Grpc.Core;
using Microsoft.Extensions.Logging;
using Spiffe.WorkloadApi;
using SpiffeHelper.Config;
using SpiffeHelper.Health;
using SpiffeHelper.Metrics;

namespace SpiffeHelper.Delivery;

/// <summary>How a run of the X.509 worker ended.</summary>
internal enum WorkerOutcome
{
    /// <summary>Stopped on request (daemon), or wrote the files once (one-shot).</summary>
    Completed,

    /// <summary>The Workload API refused the request for good (InvalidArgument, Unimplemented).</summary>
    FatalWorkloadApiError,

    /// <summary>One-shot: no valid SVID before the timeout.</summary>
    TimedOutWaiting,

    /// <summary>One-shot: a valid SVID arrived but could not be written before the timeout.</summary>
    TimedOutWriting,
}

/// <summary>
/// One update from the socket to the disk: each X.509 context from the Workload API is turned into
/// files (<see cref="CredentialFiles"/>), written as a set (<see cref="FileSetWriter"/>), then the
/// application is told (<c>onWritten</c>). A context that fails validation is not written; a failed
/// write is retried with backoff until it works or a newer context replaces it.
/// </summary>
internal sealed partial class X509Worker(
    HelperOptions options,
    WorkloadApiClient client,
    FileSetWriter writer,
    HealthState health,
    Func<Task> onWritten,
    TimeProvider time,
    ILogger<X509Worker> logger,
    HelperMetrics? metrics = null)
{
    private static readonly TimeSpan FirstWriteRetry = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxWriteRetry = TimeSpan.FromSeconds(30);

    /// <summary>Runs until cancelled (daemon) or until the first successful write (<paramref name="once"/>).</summary>
    public async Task<WorkerOutcome> RunAsync(bool once, CancellationToken cancellationToken)
    {
        var receivedValid = false;
        X509Context? pending = null;
        var retry = FirstWriteRetry;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await using var updates = client.WatchX509ContextsAsync(stop.Token).GetAsyncEnumerator(stop.Token);
        Task<bool>? next = null;

        // One wait for "no retry pending" for the whole run: a Task.Delay per loop would leave a registration on the token each time.
        var noRetry = Task.Delay(Timeout.Infinite, stop.Token);
        try
        {
            next = updates.MoveNextAsync().AsTask();
            while (true)
            {
                if (pending is not null)
                {
                    var result = Deliver(pending);
                    if (result != DeliveryResult.WriteFailed)
                    {
                        pending.Dispose();
                        pending = null;
                        retry = FirstWriteRetry;
                    }

                    if (result != DeliveryResult.Rejected)
                    {
                        receivedValid = true;
                    }

                    if (result == DeliveryResult.Written)
                    {
                        await onWritten();
                        if (once)
                        {
                            return WorkerOutcome.Completed;
                        }
                    }
                }

                var waitForRetry = pending is null ? noRetry : Task.Delay(retry, time, cancellationToken);
                var finished = await Task.WhenAny(next, waitForRetry);
                if (finished == next)
                {
                    if (!await next)
                    {
                        return WorkerOutcome.Completed;
                    }

                    pending?.Dispose();
                    pending = updates.Current;
                    next = updates.MoveNextAsync().AsTask();
                    retry = FirstWriteRetry;
                }
                else
                {
                    await waitForRetry;
                    retry = TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, MaxWriteRetry.Ticks));
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            if (once)
            {
                return receivedValid ? WorkerOutcome.TimedOutWriting : WorkerOutcome.TimedOutWaiting;
            }

            return WorkerOutcome.Completed;
        }
        catch (RpcException e) when (!WorkloadApiClient.IsRetryable(e.StatusCode))
        {
            Log.Fatal(logger, client.Address.Text, e.StatusCode, e.Status.Detail);
            return WorkerOutcome.FatalWorkloadApiError;
        }
        finally
        {
            pending?.Dispose();
            await stop.CancelAsync();
            if (next is not null)
            {
                try
                {
                    await next;
                }
                catch (Exception e) when (e is OperationCanceledException or RpcException)
                {
                }

                if (next.IsCompletedSuccessfully && next.Result)
                {
                    updates.Current.Dispose();
                }
            }
        }
    }

    private enum DeliveryResult
    {
        Written,
        Rejected,
        WriteFailed,
    }

    private DeliveryResult Deliver(X509Context context)
    {
        health.UpdateStarted();
        try
        {
            CredentialFileSet files;
            try
            {
                files = CredentialFiles.Build(context, options, time.GetUtcNow());
            }
            catch (CredentialException e) when (e.Retryable)
            {
                Log.WriteFailed(logger, writer.Directory, e.Message);
                health.WriteFailed(e.Message);
                return DeliveryResult.WriteFailed;
            }
            catch (CredentialException e)
            {
                Log.Rejected(logger, e.Message);
                health.Rejected(e.Message, e.Reason);
                metrics?.X509UpdateRefused(e.Reason);
                return DeliveryResult.Rejected;
            }

            try
            {
                writer.Write(files.Files);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.WriteFailed(logger, writer.Directory, e.Message);
                health.WriteFailed(e.Message);
                metrics?.WriteFailed(HelperMetrics.X509Output);
                return DeliveryResult.WriteFailed;
            }
            finally
            {
                foreach (var file in files.Files.Where(f => f.IsSecret))
                {
                    Array.Clear(file.Bytes);
                }
            }

            health.Written(files.NotAfter);
            metrics?.X509Written(files);
            Log.Written(logger, files.Id, writer.Directory, files.NotAfter);
            return DeliveryResult.Written;
        }
        finally
        {
            health.UpdateFinished();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Wrote the X.509 SVID of {SpiffeId} to {Directory} (expires {NotAfter})")]
        public static partial void Written(ILogger logger, Spiffe.SpiffeId spiffeId, string directory, DateTimeOffset notAfter);

        [LoggerMessage(EventId = 202, Level = LogLevel.Error, Message = "Could not write the files to {Directory}: {Reason}; the previous files are unchanged; retrying")]
        public static partial void WriteFailed(ILogger logger, string directory, string reason);

        [LoggerMessage(EventId = 203, Level = LogLevel.Error, Message = "An X.509 update was not written: {Reason}")]
        public static partial void Rejected(ILogger logger, string reason);

        [LoggerMessage(EventId = 204, Level = LogLevel.Critical, Message = "The Workload API at {Address} refused the request for good ({StatusCode}: {Detail}); check that agent_address points at a SPIFFE Workload API (a SPIRE agent's socket)")]
        public static partial void Fatal(ILogger logger, string address, StatusCode statusCode, string detail);
    }
}
