using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Grpc.Core;

namespace Spiffe.Transport;

/// <summary>
/// The one place a gRPC channel of this repository opens its socket, to a Unix socket path or a TCP endpoint.
/// A failure is thrown as a <see cref="SocketConnectException"/> whose message names the path and the real
/// cause, found by looking at the path: .NET reports a missing socket file as "Cannot assign requested
/// address" and Linux reports a regular file at the path as "Connection refused", neither of which says it.
/// </summary>
public static partial class SocketConnector
{
    /// <summary>A handler whose every connection goes to <paramref name="endPoint"/>, whatever host the channel names.</summary>
    /// <param name="endPoint">A <see cref="UnixDomainSocketEndPoint"/> or an <see cref="IPEndPoint"/>.</param>
    /// <param name="what">What listens there, for messages: "Workload API socket", "MiniSpire server".</param>
    public static SocketsHttpHandler CreateHandler(EndPoint endPoint, string what) => new()
    {
        ConnectCallback = async (_, cancellationToken) => await ConnectAsync(endPoint, what, cancellationToken),
    };

    /// <summary>Connects a stream socket to <paramref name="endPoint"/>.</summary>
    /// <exception cref="SocketConnectException">The connection failed; the message says where and why.</exception>
    public static async ValueTask<Stream> ConnectAsync(EndPoint endPoint, string what, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var protocol = endPoint is UnixDomainSocketEndPoint ? ProtocolType.Unspecified : ProtocolType.Tcp;
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, protocol);
        try
        {
            await socket.ConnectAsync(endPoint, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new SocketConnectException(Describe(endPoint, what, e), e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>What a failed connect to <paramref name="endPoint"/> means, naming it.</summary>
    public static string Describe(EndPoint endPoint, string what, SocketException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (endPoint is not UnixDomainSocketEndPoint unix)
        {
            return exception.SocketErrorCode == SocketError.ConnectionRefused
                ? $"no {what} listening at {endPoint} (Connection refused)"
                : $"cannot connect to the {what} at {endPoint} ({exception.Message})";
        }

        var path = unix.ToString();
        return (PathKind(path, out var errno), exception.SocketErrorCode) switch
        {
            (Kind.Missing, _) => $"no {what} at {path} ({Marshal.GetPInvokeErrorMessage(errno)})",
            (Kind.Unknown, _) when errno == EACCES => $"no access to the {what} at {path} (Permission denied)",
            (Kind.Socket, SocketError.ConnectionRefused) => $"no {what} at {path} (Connection refused: the socket file is there but nothing accepts connections on it)",
            (Kind.Socket or Kind.Unknown, SocketError.AccessDenied) => $"no access to the {what} at {path} (Permission denied)",
            (Kind.RegularFile, _) => $"no {what} at {path} (a regular file is there, not a socket)",
            (Kind.Directory, _) => $"no {what} at {path} (a directory is there, not a socket)",
            (Kind.OtherFile, _) => $"no {what} at {path} (a file that is not a socket is there)",
            _ => $"cannot connect to the {what} at {path} ({exception.Message})",
        };
    }

    private const int ENOENT = 2;
    private const int EACCES = 13;
    private const int ENOTDIR = 20;

    private enum Kind
    {
        Unknown,
        Missing,
        Socket,
        RegularFile,
        Directory,
        OtherFile,
    }

    /// <summary>statx(2) of the path (following symlinks, as connect does): its file type, or why there is none.</summary>
    private static Kind PathKind(string path, out int errno)
    {
        errno = 0;
        var buffer = new byte[256];
        try
        {
            if (statx(AtFdCwd, path, 0, StatxType, buffer) != 0)
            {
                errno = Marshal.GetLastPInvokeError();
                return errno is ENOENT or ENOTDIR ? Kind.Missing : Kind.Unknown;
            }
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return Kind.Unknown;
        }

        // struct statx: stx_mode, a __u16, at byte 28 on every Linux architecture.
        var mode = BitConverter.ToUInt16(buffer, 28) & 0xF000;
        return mode switch
        {
            0xC000 => Kind.Socket,
            0x8000 => Kind.RegularFile,
            0x4000 => Kind.Directory,
            _ => Kind.OtherFile,
        };
    }

    private const int AtFdCwd = -100;
    private const uint StatxType = 1;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string pathname, int flags, uint mask, [Out] byte[] buffer);
}

/// <summary>A connection to a socket failed; the message names the path or endpoint and the cause.</summary>
public sealed class SocketConnectException : IOException
{
    /// <summary>Creates the exception with the description as its message and the socket error as its cause.</summary>
    public SocketConnectException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a description as its message.</summary>
    public SocketConnectException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with no message.</summary>
    public SocketConnectException()
    {
    }

    /// <summary>
    /// The connect failure behind <paramref name="exception"/>, looked for in the exception, its inner exceptions
    /// and, for an <see cref="RpcException"/>, the debug exception of its status (where gRPC keeps the transport error).
    /// </summary>
    public static SocketConnectException? Find(Exception? exception)
    {
        for (var depth = 0; exception is not null && depth < 10; depth++)
        {
            if (exception is SocketConnectException found)
            {
                return found;
            }

            exception = exception is RpcException { Status.DebugException: { } debug } ? debug : exception.InnerException;
        }

        return null;
    }
}
