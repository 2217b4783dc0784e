using System.Net;
using System.Net.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MiniSpire.Config;
using MiniSpire.Platform;
using MiniSpire.Server.Api;
using MiniSpire.Server.Ca;
using MiniSpire.Server.Datastore;
using MiniSpire.Telemetry;

namespace MiniSpire.Server;

/// <summary>
/// Builds and runs the server: the datastore, the CA (initialized before anything listens), the agent API on
/// TCP with TLS and the admin API on the Unix socket (0600; its directory 0700 when the server creates it).
/// </summary>
internal static partial class ServerHost
{
    private const string AdminServicePrefix = "/minispire.v1.Admin/";

    /// <summary>Builds a started-ready application; the caller runs or starts it.</summary>
    public static async Task<WebApplication> BuildAsync(ServerOptions options, TimeProvider? time = null, Action<ILoggingBuilder>? configureLogging = null, CancellationToken ct = default)
    {
        time ??= TimeProvider.System;
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddLogging(logging =>
        {
            logging.SetMinimumLevel(options.LogLevel);
            logging.AddFilter("Microsoft", LogLevel.Warning);
            logging.AddFilter("Grpc", LogLevel.Warning);
            if (configureLogging is null)
            {
                logging.AddMiniSpireConsole(options.JsonLogs);
            }
            else
            {
                configureLogging(logging);
            }
        });

        var permissionChanges = OwnerOnlyPaths.PrepareDataDirectory(options.DataDir, "data_dir");
        var store = SqliteDataStore.Open(options.DataDir);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(time);
        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton<ServerCa>();
        if (options.Prometheus is not null)
        {
            builder.Services.AddSingleton<ServerMetrics>();
        }

        builder.Services.AddSingleton<ServerTlsCertificate>();
        builder.Services.AddSingleton<AgentAuthenticator>();
        builder.Services.AddHostedService<CaRotationService>();
        builder.Services.AddRoutingCore();
        builder.Services.AddGrpc(grpc => grpc.EnableDetailedErrors = false);

        OwnerOnlyPaths.PrepareSocketDirectory(options.SocketPath, OwnerOnlyPaths.OwnerOnlyDirectory, "admin API socket");
        builder.WebHost.UseKestrelCore().UseKestrelHttpsConfiguration();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Parse(options.BindAddress), options.BindPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                var certificates = kestrel.ApplicationServices.GetRequiredService<ServerTlsCertificate>();
                listen.UseHttps(new TlsHandshakeCallbackOptions
                {
                    OnConnection = _ => ValueTask.FromResult(new SslServerAuthenticationOptions
                    {
                        ServerCertificateContext = certificates.GetContext(),
                        ApplicationProtocols = [SslApplicationProtocol.Http2],
                        ClientCertificateRequired = true,
                        // Any certificate, or none, passes the handshake; AgentAuthenticator decides per call
                        // so a refusal is a gRPC status that says why.
#pragma warning disable CA5359 // Validated per call by AgentAuthenticator against the live bundle, not here.
                        RemoteCertificateValidationCallback = (_, _, _, _) => true,
#pragma warning restore CA5359
                        CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
                    }),
                });
            });
            kestrel.ListenUnixSocket(options.SocketPath, listen => listen.Protocols = HttpProtocols.Http2);
        });
        if (options.Prometheus is { } prometheus)
        {
            MetricsListener.AddTo(builder, prometheus);
        }

        var app = builder.Build();
        try
        {
            await app.Services.GetRequiredService<ServerCa>().InitializeAsync(ct);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        if (options.Prometheus is not null)
        {
            MetricsListener.Use(app, app.Services.GetRequiredService<ServerMetrics>().Registry);
        }

        // The admin API only on the Unix socket, the agent API only on the TLS port.
        app.Use(async (context, next) =>
        {
            var isAdmin = context.Request.Path.StartsWithSegments(AdminServicePrefix.TrimEnd('/'), StringComparison.Ordinal);
            if (isAdmin == context.Request.IsHttps)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            await next(context);
        });
        app.MapGrpcService<AgentApiService>();
        app.MapGrpcService<AdminApiService>();

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("MiniSpire.Server");
        OwnerOnlyPaths.LogChanges(logger, permissionChanges);

        // Owner-only, whatever directory it is in (an existing directory such as /tmp is never chmodded).
        app.Lifetime.ApplicationStarted.Register(() => File.SetUnixFileMode(options.SocketPath, OwnerOnlyPaths.OwnerOnlyFile));
        app.Lifetime.ApplicationStarted.Register(() => LogStarted(logger, options.TrustDomain.Name, options.BindAddress, options.BindPort, options.SocketPath, options.DataDir));
        app.Lifetime.ApplicationStopping.Register(() => LogStopping(logger));
        return app;
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information,
        Message = "MiniSpire server started: trust domain {TrustDomain}, agent API on {BindAddress}:{BindPort} (TLS), admin API on {SocketPath}, data in {DataDir}.")]
    private static partial void LogStarted(ILogger logger, string trustDomain, string bindAddress, int bindPort, string socketPath, string dataDir);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "MiniSpire server stopping.")]
    private static partial void LogStopping(ILogger logger);
}
