using System.Diagnostics;
using System.Text;
using Grpc.Core;
using MiniSpire.Agent;
using MiniSpire.Config;
using Spiffe.Jwt;
using Spiffe.Transport;
using Spiffe.WorkloadApi;
using Spiffe.X509;

namespace MiniSpire.Cli;

/// <summary>
/// <c>minispire agent run|api|healthcheck</c>: the agent itself, and the Workload API client commands SPIRE
/// users know (<c>spire-agent api fetch x509</c> and friends), built on the Spiffe library's client.
/// </summary>
internal static class AgentCommands
{
    public const string Usage = """
        Usage: minispire agent <command> [flags]
        Commands:
          run -config <file> [-joinToken <token>]
          api fetch x509 [-socketPath <path>] [-write <dir>]
          api fetch jwt -audience <aud>[,<aud>...] [-spiffeID <id>] [-socketPath <path>]
          api fetch jwt bundles [-socketPath <path>]
          api validate jwt -audience <aud> -svid <token> [-socketPath <path>]
          api watch [-socketPath <path>]
          healthcheck [-socketPath <path>]
          attest -pid <pid> [-socketPath <admin socket>]
        -socketPath defaults to /tmp/spire-agent/public/api.sock (the Workload API), and for attest to
        /tmp/minispire-agent/private/admin.sock (the agent's admin socket, agent.admin_socket_path).
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var command = string.Join(' ', args.TakeWhile(a => !a.StartsWith('-')));
        var flags = args.SkipWhile(a => !a.StartsWith('-')).ToList();
        try
        {
            return command switch
            {
                "run" => await RunAgentAsync(flags, stdout, stderr),
                "api fetch x509" => await FetchX509Async(flags, stdout, ct),
                "api fetch jwt" => await FetchJwtAsync(flags, stdout, ct),
                "api fetch jwt bundles" => await FetchJwtBundlesAsync(flags, stdout, ct),
                "api validate jwt" => await ValidateJwtAsync(flags, stdout, ct),
                "api watch" => await WatchAsync(flags, stdout, ct),
                "healthcheck" => await HealthcheckAsync(flags, stdout, stderr, ct),
                "attest" => await AttestAsync(flags, stdout, ct),
                _ => await UsageAsync(stderr),
            };
        }
        catch (RpcException e)
        {
            await stderr.WriteLineAsync(e.StatusCode switch
            {
                _ when SocketConnectException.Find(e) is { } connect => "Error: " + connect.Message,
                StatusCode.Unavailable => $"Error: the agent is unreachable on its Workload API socket: {e.Status.Detail}",
                StatusCode.PermissionDenied => $"Error: PermissionDenied: {e.Status.Detail} (no registration entry matches this process; `minispire agent attest -pid {Environment.ProcessId}` shows its selectors)",
                _ => $"Error: {e.StatusCode}: {e.Status.Detail}",
            });
            return 1;
        }
        catch (Exception e) when (e is WorkloadApiResponseException or JwtSvidException or FormatException)
        {
            await stderr.WriteLineAsync("Error: " + e.Message);
            return 1;
        }
    }

    private static async Task<int> UsageAsync(TextWriter stderr)
    {
        await stderr.WriteLineAsync(Usage);
        return 1;
    }

    private static async Task<int> RunAgentAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr)
    {
        var flags = new FlagSet("agent run")
            .String("config", "Path to the agent configuration file (TOML)")
            .String("joinToken", "A join token from `minispire server token generate` (first start only)");
        var errors = flags.Parse(args).ToList();
        if (flags.GetString("config") is null)
        {
            errors.Add("-config is required");
        }

        if (errors.Count > 0)
        {
            await stderr.WriteLineAsync(string.Join(Environment.NewLine, errors) + Environment.NewLine + flags.Usage());
            return 1;
        }

        AgentOptions options;
        try
        {
            options = AgentConfigLoader.LoadFile(flags.GetString("config")!, flags.GetString("joinToken"));
        }
        catch (ConfigException e)
        {
            await stderr.WriteLineAsync(e.Message);
            return 1;
        }

        await using var app = AgentHost.Build(options);
        var service = app.Services.GetService(typeof(AgentService)) as AgentService;
        await app.RunAsync();
        if (service?.FailureReason is { } reason)
        {
            await stderr.WriteLineAsync("Error: " + reason);
            return 1;
        }

        await stdout.FlushAsync();
        return 0;
    }

    private static async Task<int> FetchX509Async(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var flags = ClientFlags("agent api fetch x509").String("write", "Write the SVIDs, keys and bundles as PEM files into this directory");
        Parse(flags, args);
        using var client = Client(flags);
        var started = Stopwatch.GetTimestamp();
        using var context = await client.FetchX509ContextAsync(ct);
        await stdout.WriteLineAsync($"Received {context.Svids.Count} svid after {Stopwatch.GetElapsedTime(started).TotalMilliseconds:0.###}ms");
        for (var i = 0; i < context.Svids.Count; i++)
        {
            var svid = context.Svids[i];
            await stdout.WriteLineAsync();
            await stdout.WriteLineAsync($"SPIFFE ID:\t\t{svid.Id}");
            if (svid.Hint.Length > 0)
            {
                await stdout.WriteLineAsync($"Hint:\t\t\t{svid.Hint}");
            }

            await stdout.WriteLineAsync($"SVID Valid After:\t{svid.NotBefore:yyyy-MM-dd HH:mm:ss} +0000 UTC");
            await stdout.WriteLineAsync($"SVID Valid Until:\t{svid.NotAfter:yyyy-MM-dd HH:mm:ss} +0000 UTC");
            var n = 1;
            foreach (var intermediate in svid.Intermediates)
            {
                await stdout.WriteLineAsync($"Intermediate #{n} Valid After:\t{intermediate.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm:ss} +0000 UTC");
                await stdout.WriteLineAsync($"Intermediate #{n++} Valid Until:\t{intermediate.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} +0000 UTC");
            }

            n = 1;
            foreach (var authority in context.Bundles.GetBundle(svid.Id.TrustDomain).Authorities)
            {
                await stdout.WriteLineAsync($"CA #{n} Valid After:\t{authority.NotBefore.ToUniversalTime():yyyy-MM-dd HH:mm:ss} +0000 UTC");
                await stdout.WriteLineAsync($"CA #{n++} Valid Until:\t{authority.NotAfter.ToUniversalTime():yyyy-MM-dd HH:mm:ss} +0000 UTC");
            }
        }

        if (flags.GetString("write") is { } directory)
        {
            await WriteX509Async(context, directory, stdout);
        }

        return 0;
    }

    private static async Task WriteX509Async(X509Context context, string directory, TextWriter stdout)
    {
        Directory.CreateDirectory(directory);
        for (var i = 0; i < context.Svids.Count; i++)
        {
            var svid = context.Svids[i];
            await WriteFileAsync(Path.Combine(directory, $"svid.{i}.pem"), svid.ExportCertificatesPem(), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            await WriteFileAsync(Path.Combine(directory, $"svid.{i}.key"), svid.ExportPrivateKeyPem(), UnixFileMode.UserRead | UnixFileMode.UserWrite);
            await WriteFileAsync(Path.Combine(directory, $"bundle.{i}.pem"), context.Bundles.GetBundle(svid.Id.TrustDomain).ExportPem(), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            await stdout.WriteLineAsync($"Writing SVID #{i} to file {Path.Combine(directory, $"svid.{i}.pem")}.");
            await stdout.WriteLineAsync($"Writing key #{i} to file {Path.Combine(directory, $"svid.{i}.key")}.");
            await stdout.WriteLineAsync($"Writing bundle #{i} to file {Path.Combine(directory, $"bundle.{i}.pem")}.");
        }
    }

    private static async Task WriteFileAsync(string path, string content, UnixFileMode mode)
    {
        // The mode is set at creation: a key file is never readable by others, not even briefly.
        await using var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = mode });
        await stream.WriteAsync(Encoding.ASCII.GetBytes(content));
        File.SetUnixFileMode(path, mode);
    }

    private static async Task<int> FetchJwtAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var flags = ClientFlags("agent api fetch jwt")
            .String("audience", "Comma-separated audiences (required)")
            .String("spiffeID", "Only the JWT-SVID of this SPIFFE ID");
        Parse(flags, args);
        var audience = (flags.GetString("audience") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (audience.Length == 0)
        {
            throw new CliException("-audience is required");
        }

        using var client = Client(flags);
        var id = flags.GetString("spiffeID") is { } text ? Spiffe.SpiffeId.Parse(text) : null;
        foreach (var svid in await client.FetchJwtSvidsAsync(audience, id, ct))
        {
            await stdout.WriteLineAsync($"token({svid.Id}):");
            await stdout.WriteLineAsync("\t" + svid.Token);
        }

        await PrintJwtBundlesAsync(await client.FetchJwtBundlesAsync(ct), stdout);
        return 0;
    }

    private static async Task<int> FetchJwtBundlesAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var flags = ClientFlags("agent api fetch jwt bundles");
        Parse(flags, args);
        using var client = Client(flags);
        await PrintJwtBundlesAsync(await client.FetchJwtBundlesAsync(ct), stdout);
        return 0;
    }

    private static async Task PrintJwtBundlesAsync(JwtBundleSet bundles, TextWriter stdout)
    {
        foreach (var bundle in bundles.Bundles)
        {
            await stdout.WriteLineAsync($"bundle({bundle.TrustDomain.IdString}):");
            await stdout.WriteLineAsync("\t" + Encoding.UTF8.GetString(bundle.ToJwks()));
        }
    }

    private static async Task<int> ValidateJwtAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var flags = ClientFlags("agent api validate jwt")
            .String("audience", "The audience the token must be for (required)")
            .String("svid", "The JWT-SVID to validate (required)");
        Parse(flags, args);
        var audience = flags.GetString("audience");
        var token = flags.GetString("svid");
        if (string.IsNullOrEmpty(audience) || string.IsNullOrEmpty(token))
        {
            throw new CliException("-audience and -svid are required");
        }

        using var client = Client(flags);
        var svid = await client.ValidateJwtSvidAsync(token, audience, ct);
        await stdout.WriteLineAsync("SVID is valid.");
        await stdout.WriteLineAsync($"SPIFFE ID : {svid.Id}");
        await stdout.WriteLineAsync($"Claims    : {svid.ClaimsJson}");
        return 0;
    }

    private static async Task<int> WatchAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var flags = ClientFlags("agent api watch");
        Parse(flags, args);
        using var client = Client(flags);
        await stdout.WriteLineAsync("Watching X.509 SVID updates...");
        try
        {
            await foreach (var context in client.WatchX509ContextsAsync(ct))
            {
                using (context)
                {
                    await stdout.WriteLineAsync($"Received {context.Svids.Count} svid(s):");
                    foreach (var svid in context.Svids)
                    {
                        await stdout.WriteLineAsync($"  {svid.Id} serial {svid.Leaf.SerialNumber} valid until {svid.NotAfter:yyyy-MM-dd HH:mm:ss} +0000 UTC");
                    }

                    await stdout.FlushAsync(ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }

        return 0;
    }

    private static async Task<int> HealthcheckAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var flags = ClientFlags("agent healthcheck");
        Parse(flags, args);
        using var client = Client(flags);
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            await client.FetchJwtBundlesAsync(timeout.Token);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.PermissionDenied)
        {
            // The agent answered: it is up, this process just has no identity.
        }
        catch (RpcException e)
        {
            await stderr.WriteLineAsync($"Agent is unavailable: {SocketConnectException.Find(e)?.Message ?? $"{e.StatusCode}: {e.Status.Detail}"}");
            return 1;
        }

        await stdout.WriteLineAsync("Agent is healthy.");
        return 0;
    }

    private static async Task<int> AttestAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var flags = new FlagSet("agent attest")
            .String("pid", "The process to attest (required)")
            .String("socketPath", $"Path to the agent's admin socket (default \"{AgentOptions.DefaultAdminSocketPath}\")");
        Parse(flags, args);
        if (!int.TryParse(flags.GetString("pid"), out var pid) || pid <= 0)
        {
            throw new CliException($"-pid must be a process ID, got \"{flags.GetString("pid")}\"");
        }

        var (channel, client) = AdminClient.ConnectAgent(flags.GetString("socketPath") ?? AgentOptions.DefaultAdminSocketPath);
        using (channel)
        {
            var response = await client.AttestPidAsync(new Proto.AttestPidRequest { Pid = pid }, cancellationToken: ct);
            await stdout.WriteLineAsync($"Selectors of pid {response.Pid}:");
            foreach (var selector in response.Selectors)
            {
                await stdout.WriteLineAsync($"  {selector.Type}:{selector.Value}");
            }

            await stdout.WriteLineAsync(response.Matching.Count == 0 ? "Matching entries: none (the process gets no identity)" : "Matching entries:");
            foreach (var entry in response.Matching)
            {
                await stdout.WriteLineAsync($"  {entry.Id}  {entry.SpiffeId}  [{string.Join(", ", entry.Selectors.Select(s => $"{s.Type}:{s.Value}"))}]");
            }

            if (response.NearMisses.Count > 0)
            {
                await stdout.WriteLineAsync("Near misses (entries it does not match, and the selectors it lacks):");
                foreach (var miss in response.NearMisses)
                {
                    await stdout.WriteLineAsync($"  {miss.EntryId}  {miss.SpiffeId}  missing: {string.Join(", ", miss.Missing.Select(s => $"{s.Type}:{s.Value}"))}");
                }
            }
        }

        return 0;
    }

    private static FlagSet ClientFlags(string command) =>
        new FlagSet(command).String("socketPath", $"Path to the Workload API socket (default \"{AgentOptions.DefaultSocketPath}\")");

    private static void Parse(FlagSet flags, IReadOnlyList<string> args)
    {
        var errors = flags.Parse(args);
        if (errors.Count > 0)
        {
            throw new CliException(string.Join("; ", errors));
        }
    }

    private static WorkloadApiClient Client(FlagSet flags) => new(new WorkloadApiClientOptions
    {
        Address = WorkloadApiAddress.Parse(flags.GetString("socketPath") ?? AgentOptions.DefaultSocketPath),
    });
}
