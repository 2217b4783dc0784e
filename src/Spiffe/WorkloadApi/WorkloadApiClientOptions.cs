namespace Spiffe.WorkloadApi;

/// <summary>How a <see cref="WorkloadApiClient"/> connects and retries.</summary>
public sealed class WorkloadApiClientOptions
{
    /// <summary>The address; when null, <c>SPIFFE_ENDPOINT_SOCKET</c> and then the SPIRE default are used.</summary>
    public WorkloadApiAddress? Address { get; init; }

    /// <summary>
    /// The first retry delay of a watch. Delays grow linearly (1x, 2x, 3x, ...) up to
    /// <see cref="MaxRetryDelay"/> and start over after every received message, as go-spiffe's do.
    /// </summary>
    public TimeSpan InitialRetryDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The largest retry delay of a watch.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock used for retry delays and token validation.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Called for every failure a watch sees, before it retries or stops; for metrics and health.</summary>
    public Action<WorkloadApiFailure>? OnFailure { get; init; }

    /// <summary>Called with the RPC name when a watch receives a message again after a failure; for metrics.</summary>
    public Action<string>? OnReconnected { get; init; }
}
