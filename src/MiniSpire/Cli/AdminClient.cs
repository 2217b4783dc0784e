using System.Net.Sockets;
using Grpc.Net.Client;
using MiniSpire.Proto;

namespace MiniSpire.Cli;

/// <summary>A gRPC client of the server's admin API over its Unix socket.</summary>
internal static class AdminClient
{
    public static (GrpcChannel Channel, Admin.AdminClient Client) Connect(string socketPath)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
        return (channel, new Admin.AdminClient(channel));
    }
}
