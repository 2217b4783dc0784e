using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MiniSpire.Agent.Admin;
using MiniSpire.Agent.Cache;
using MiniSpire.Agent.Node;
using MiniSpire.Agent.Rotation;
using MiniSpire.Agent.ServerApi;
using MiniSpire.Agent.Sync;
using MiniSpire.Agent.WorkloadApi;
using MiniSpire.Config;
using MiniSpire.Platform;
using MiniSpire.Proto;
using MiniSpire.Telemetry;

namespace MiniSpire.Agent;

/// <summary>
/// Builds the agent: node attestation and the sync loop against the server, the cache between them and
/// the workloads, and the Workload API on its Unix socket.
/// </summary>
internal static class AgentHost
{
    public static WebApplication Build(AgentOptions options, TimeProvider? time = null, Action<ILoggingBuilder>? configureLogging = null)
    {
        time ??= TimeProvider.System;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(options.LogLevel);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);
        if (configureLogging is null)
        {
            builder.Logging.AddMiniSpireConsole(options.JsonLogs);
        }
        else
        {
            configureLogging(builder.Logging);
        }

        var permissionChanges = OwnerOnlyPaths.PrepareDataDirectory(options.DataDir, "data_dir");
        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(time);
        services.AddSingleton<AgentCache>();
        services.AddSingleton(new AgentCredentialStore(options.DataDir));
        services.AddSingleton(new ServerConnection(options.ServerAddress, options.ServerPort, options.ServerId));
        services.AddSingleton<AgentNode>();
        services.AddSingleton<EntrySyncer>();
        services.AddSingleton(provider =>
        {
            var node = provider.GetRequiredService<AgentNode>();
            return new JwtSvidCache(async (entry, audience, ct) =>
            {
                var request = new MintJwtSvidRequest { EntryId = entry.Id };
                request.Audience.AddRange(audience);
                var minted = await node.Client.MintJwtSvidAsync(request, cancellationToken: ct);
                return new MintedJwtSvid(minted.Token, DateTimeOffset.FromUnixTimeSeconds(minted.IssuedAt), DateTimeOffset.FromUnixTimeSeconds(minted.ExpiresAt));
            }, time);
        });
        services.AddSingleton<IJwtSvidSource>(provider => provider.GetRequiredService<JwtSvidCache>());
        services.AddSingleton<AgentService>();
        services.AddHostedService(provider => provider.GetRequiredService<AgentService>());

        var endpoint = new WorkloadApiEndpointOptions(options.SocketPath, options.DiscoverWorkloadPath);
        WorkloadApiEndpoint.AddTo(builder, endpoint);
        if (options.Prometheus is { } prometheus)
        {
            services.AddSingleton<AgentMetrics>();
            services.AddGrpc().AddServiceOptions<WorkloadApiService>(grpc => grpc.Interceptors.Add<WorkloadApiMetricsInterceptor>());
            MetricsListener.AddTo(builder, prometheus);
        }

        OwnerOnlyPaths.PrepareSocketDirectory(options.AdminSocketPath, OwnerOnlyPaths.OwnerOnlyDirectory, "agent admin socket");
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenUnixSocket(options.AdminSocketPath, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            listen.Use(next => connection =>
            {
                connection.Items[AdminConnectionKey] = true;
                return next(connection);
            });
        }));

        var app = builder.Build();
        OwnerOnlyPaths.LogChanges(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MiniSpire.Agent"), permissionChanges);
        if (options.Prometheus is not null)
        {
            MetricsListener.Use(app, app.Services.GetRequiredService<AgentMetrics>().Registry);
        }

        // The admin API only on the admin socket; the Workload API never there.
        app.Use(async (context, next) =>
        {
            var onAdminSocket = context.Features.Get<IConnectionItemsFeature>()?.Items.ContainsKey(AdminConnectionKey) == true;
            var isAdminCall = context.Request.Path.StartsWithSegments(AdminServicePath, StringComparison.Ordinal);
            if (onAdminSocket != isAdminCall)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            await next(context);
        });
        WorkloadApiEndpoint.Map(app, endpoint);
        app.MapGrpcService<AgentAdminService>();
        app.Lifetime.ApplicationStarted.Register(() => File.SetUnixFileMode(options.AdminSocketPath, UnixFileMode.UserRead | UnixFileMode.UserWrite));
        return app;
    }

    private const string AdminConnectionKey = "minispire.agent-admin";
    private const string AdminServicePath = "/minispire.v1.AgentAdmin";
}
