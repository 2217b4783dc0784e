using Grpc.Core;
using Spiffe.Transport;

namespace Spiffe.WorkloadApi;

/// <summary>What kind of thing went wrong talking to the Workload API.</summary>
public enum WorkloadApiFailureKind
{
    /// <summary>The call ended with a gRPC status (including transport failures, reported as Unavailable).</summary>
    Status,

    /// <summary>The server ended a watch stream without an error.</summary>
    StreamEnded,

    /// <summary>A message was missing a mandatory field or held invalid data; it was dropped.</summary>
    InvalidResponse,
}

/// <summary>A failure seen by a watch: reported to <see cref="WorkloadApiClientOptions.OnFailure"/> before any retry.</summary>
/// <param name="Rpc">The RPC name, for example <c>FetchX509SVID</c>.</param>
/// <param name="Kind">What went wrong.</param>
/// <param name="StatusCode">The gRPC status for <see cref="WorkloadApiFailureKind.Status"/>, else null.</param>
/// <param name="Exception">The failure.</param>
/// <param name="RetryIn">The delay before the next attempt; null when the watch stops (or, for an invalid response, keeps reading).</param>
public sealed record WorkloadApiFailure(string Rpc, WorkloadApiFailureKind Kind, StatusCode? StatusCode, Exception Exception, TimeSpan? RetryIn)
{
    /// <summary>
    /// The cause in one line: for a failed connection, the socket path and why (<c>no Workload API socket at
    /// /run/spire/api.sock (No such file or directory)</c>); else the gRPC status and its detail, or the message.
    /// </summary>
    public string Reason => Describe(Exception);

    /// <summary>The cause of <paramref name="exception"/> in one line, as <see cref="Reason"/>.</summary>
    public static string Describe(Exception exception) => exception switch
    {
        _ when SocketConnectException.Find(exception) is { } connect => connect.Message,
        RpcException e => $"{e.StatusCode}: {e.Status.Detail}",
        null => string.Empty,
        _ => exception.Message,
    };
}
