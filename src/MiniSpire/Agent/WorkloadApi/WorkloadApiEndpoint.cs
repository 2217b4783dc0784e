using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MiniSpire.Agent.Attestation;
using MiniSpire.Agent.Cache;
using MiniSpire.Platform;

namespace MiniSpire.Agent.WorkloadApi;

/// <summary>Where and how the agent serves the Workload API.</summary>
internal sealed record WorkloadApiEndpointOptions(string SocketPath, bool DiscoverWorkloadPath);

/// <summary>
/// Hosts <see cref="WorkloadApiService"/> on a Unix socket with mode 0777, as SPIRE does: who may call is
/// decided by attestation, not by file permissions.
/// </summary>
internal static class WorkloadApiEndpoint
{
    /// <summary>A host serving only the Workload API from <paramref name="cache"/>.</summary>
    public static WebApplication Build(WorkloadApiEndpointOptions options, AgentCache cache, IJwtSvidSource jwtSvids, TimeProvider time, Action<ILoggingBuilder>? logging = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        logging?.Invoke(builder.Logging);
        builder.Services.AddSingleton(cache);
        builder.Services.AddSingleton(jwtSvids);
        builder.Services.AddSingleton(time);
        AddTo(builder, options);
        var app = builder.Build();
        Map(app, options);
        return app;
    }

    /// <summary>Listens on the socket and registers the service; the cache, JWT source and clock come from the caller.</summary>
    public static void AddTo(WebApplicationBuilder builder, WorkloadApiEndpointOptions options)
    {
        // Its directory is created 0755 when missing (workloads of every user must reach the socket), never
        // chmodded when it exists; a socket file left by a previous run, which would make the bind fail, is removed.
        OwnerOnlyPaths.PrepareSocketDirectory(options.SocketPath, OwnerOnlyPaths.PublicDirectory, "Workload API socket");

        var processes = new ProcessInspector();
        var attestor = new UnixWorkloadAttestor(processes, new UserDatabase(), options.DiscoverWorkloadPath);
        var callers = new CallerIdentification(new PeerTracker(processes, attestor));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenUnixSocket(options.SocketPath, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            listen.Use(callers.Middleware);
        }));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(callers);
        builder.Services.AddSingleton(attestor);
    }

    public static void Map(WebApplication app, WorkloadApiEndpointOptions options)
    {
        app.MapGrpcService<WorkloadApiService>();
        app.Lifetime.ApplicationStarted.Register(() => File.SetUnixFileMode(options.SocketPath, (UnixFileMode)0b111_111_111));
    }
}
