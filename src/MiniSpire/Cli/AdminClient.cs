using System.Net.Sockets;
using Grpc.Net.Client;
using MiniSpire.Proto;
using Spiffe.Transport;

namespace MiniSpire.Cli;

/// <summary>gRPC clients of the admin APIs (the server's, the agent's) over their Unix sockets.</summary>
internal static class AdminClient
{
    public static (GrpcChannel Channel, Admin.AdminClient Client) Connect(string socketPath)
    {
        var channel = UnixChannel(socketPath, "MiniSpire server");
        return (channel, new Admin.AdminClient(channel));
    }

    public static (GrpcChannel Channel, AgentAdmin.AgentAdminClient Client) ConnectAgent(string socketPath)
    {
        var channel = UnixChannel(socketPath, "MiniSpire agent admin socket");
        return (channel, new AgentAdmin.AgentAdminClient(channel));
    }

    /// <summary>The host name is never resolved: every connection goes to the socket, and a failure names its path.</summary>
    private static GrpcChannel UnixChannel(string socketPath, string what) =>
        GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = SocketConnector.CreateHandler(new UnixDomainSocketEndPoint(socketPath), what),
            DisposeHttpClient = true,
        });
}
