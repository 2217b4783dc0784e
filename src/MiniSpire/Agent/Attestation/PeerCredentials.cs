using System.Buffers.Binary;
using System.Net.Sockets;

namespace MiniSpire.Agent.Attestation;

/// <summary>Who is on the other end of a Unix socket, as the kernel says (<c>SO_PEERCRED</c>).</summary>
internal readonly record struct PeerCredentials(int Pid, uint Uid, uint Gid)
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    /// <summary>Reads <c>struct ucred { pid_t pid; uid_t uid; gid_t gid; }</c> of a connected Unix socket.</summary>
    /// <exception cref="SocketException">The socket is not a connected Unix socket.</exception>
    public static PeerCredentials Read(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        Span<byte> ucred = stackalloc byte[12];
        var length = socket.GetRawSocketOption(SolSocket, SoPeerCred, ucred);
        if (length != ucred.Length)
        {
            throw new SocketException((int)SocketError.InvalidArgument);
        }

        return new PeerCredentials(
            BinaryPrimitives.ReadInt32LittleEndian(ucred),
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[4..]),
            BinaryPrimitives.ReadUInt32LittleEndian(ucred[8..]));
    }
}
