using System.Net.Sockets;
using Grpc.Net.Client;
using MiniSpire.Proto;

namespace MiniSpire.Cli;

/// <summary>gRPC clients of the admin APIs (the server's, the agent's) over their Unix sockets.</summary>
internal static class AdminClient
{
    public static (GrpcChannel Channel, Admin.AdminClient Client) Connect(string socketPath)
    {
        var channel = UnixChannel(socketPath);
        return (channel, new Admin.AdminClient(channel));
    }

    public static (GrpcChannel Channel, AgentAdmin.AgentAdminClient Client) ConnectAgent(string socketPath)
    {
        var channel = UnixChannel(socketPath);
        return (channel, new AgentAdmin.AgentAdminClient(channel));
    }

    private static GrpcChannel UnixChannel(string socketPath)
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
        return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
    }
}
