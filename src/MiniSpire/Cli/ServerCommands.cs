using System.CommandLine;
using System.Globalization;
using System.Text;
using MiniSpire.Config;
using MiniSpire.Proto;
using MiniSpire.Server;

namespace MiniSpire.Cli;

/// <summary><c>minispire server</c>: <c>run</c>, <c>validate</c>, <c>healthcheck</c>, <c>token generate</c>, <c>agent ...</c>.</summary>
internal static class ServerCommands
{
    /// <summary>SPIRE's default, relative to the working directory.</summary>
    public const string DefaultConfigPath = "conf/server/server.conf";

    public static Command Build()
    {
        var server = new Command("server", "The MiniSpire server and its admin commands (spire-server)");
        server.Subcommands.Add(Run());
        server.Subcommands.Add(Validate());
        server.Subcommands.Add(Healthcheck());
        var token = new Command("token", "Join tokens");
        token.Subcommands.Add(TokenGenerate());
        server.Subcommands.Add(token);
        server.Subcommands.Add(EntryCommands.Build());
        server.Subcommands.Add(BundleCommands.Build());
        server.Subcommands.Add(Agent());
        return server;
    }

    /// <summary>The flags of <c>server run</c> and <c>server validate</c>: -config and SPIRE's overrides of its keys.</summary>
    private sealed class RunFlags
    {
        public Option<string> Config { get; } = CommandSupport.String("-config", "Path to a MiniSpire server config file (TOML)", DefaultConfigPath);

        public Option<string> BindAddress { get; } = CommandSupport.String("-bindAddress", "IP address the server listens on (server.bind_address)");

        public Option<int> ServerPort { get; } = new("-serverPort") { Description = "Port number of the server (server.bind_port)", HelpName = "int" };

        public Option<string> DataDir { get; } = CommandSupport.String("-dataDir", "Directory to store runtime data to (server.data_dir)");

        public Option<string> LogFormat { get; } = CommandSupport.String("-logFormat", "'text' or 'json' (server.log_format)");

        public Option<string> LogLevel { get; } = CommandSupport.String("-logLevel", "'debug', 'info', 'warn', or 'error' (server.log_level)");

        public Option<string> TrustDomain { get; } = CommandSupport.String("-trustDomain", "The trust domain that this server belongs to (server.trust_domain)");

        public Option<string> SocketPath { get; } = CommandSupport.String("-socketPath", "Path to bind the server API socket to (server.socket_path)");

        public Command AddTo(Command command)
        {
            foreach (var option in new Option[] { Config, BindAddress, ServerPort, DataDir, LogFormat, LogLevel, TrustDomain, SocketPath })
            {
                command.Options.Add(option);
            }

            return command;
        }

        public ServerOptions Load(ParseResult result)
        {
            var overrides = new Dictionary<string, object>();
            Set(result, BindAddress, "bind_address", overrides);
            Set(result, DataDir, "data_dir", overrides);
            Set(result, LogFormat, "log_format", overrides);
            Set(result, LogLevel, "log_level", overrides);
            Set(result, TrustDomain, "trust_domain", overrides);
            Set(result, SocketPath, "socket_path", overrides);
            if (result.GetResult(ServerPort) is not null)
            {
                overrides["bind_port"] = (long)result.GetValue(ServerPort);
            }

            return ServerConfigLoader.LoadFile(result.GetValue(Config)!, overrides);
        }
    }

    internal static void Set(ParseResult result, Option<string> option, string key, Dictionary<string, object> overrides)
    {
        if (result.GetValue(option) is { } value)
        {
            overrides[key] = value;
        }
    }

    private static Command Run()
    {
        var flags = new RunFlags();
        var command = flags.AddTo(new Command("run", "Runs the server"));
        command.SetRun(_ => null, async (result, stdout, stderr, ct) =>
        {
            ServerOptions options;
            try
            {
                options = flags.Load(result);
            }
            catch (ConfigException e)
            {
                await stderr.WriteLineAsync(e.Message);
                return ExitCodes.UsageOrConfig;
            }

            try
            {
                await using var app = await ServerHost.BuildAsync(options, ct: ct);
                await app.RunAsync();
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
            {
                // A port in use, a socket or data directory that cannot be created, a datastore that cannot be opened.
                await stderr.WriteLineAsync($"Error: the server cannot start: {e.Message}");
                return ExitCodes.Failure;
            }
        });
        return command;
    }

    private static Command Validate()
    {
        var flags = new RunFlags();
        var command = flags.AddTo(new Command("validate", "Validates a MiniSpire server configuration file (the flags of run apply)"));
        command.SetRun(_ => null, async (result, stdout, stderr, ct) =>
        {
            try
            {
                flags.Load(result);
            }
            catch (ConfigException e)
            {
                await stderr.WriteLineAsync("MiniSpire server configuration file is invalid: " + e.Message);
                return ExitCodes.UsageOrConfig;
            }

            await stdout.WriteLineAsync("MiniSpire server configuration file is valid.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Healthcheck()
    {
        var socket = CommandSupport.ServerSocket();
        var shallow = CommandSupport.Bool("-shallow", "Perform a less stringent health check (the server answers; a signing authority is not required)");
        var verbose = CommandSupport.Bool("-verbose", "Print verbose information");
        var command = CommandSupport.Command("healthcheck", "Determines server health status", socket, shallow, verbose);
        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            var isVerbose = result.GetValue(verbose);
            if (isVerbose)
            {
                await stdout.WriteLineAsync("Checking server health...");
            }

            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            HealthResponse health;
            try
            {
                health = await client.HealthAsync(new HealthRequest(), deadline: TimeProvider.System.GetUtcNow().UtcDateTime.AddSeconds(5), cancellationToken: ct);
            }
            catch (Grpc.Core.RpcException e)
            {
                if (isVerbose)
                {
                    await stderr.WriteLineAsync($"Failed to check health: {CommandSupport.Describe(e, new Endpoint("server", result.GetValue(socket)!)).Message}");
                }

                await stderr.WriteLineAsync("Error: server is unhealthy: unable to determine health");
                return ExitCodes.Unreachable;
            }

            if (!health.Serving && !result.GetValue(shallow))
            {
                await stderr.WriteLineAsync("Error: server is unhealthy: server returned status \"NOT_SERVING\" (no signing authority)");
                return ExitCodes.Failure;
            }

            await stdout.WriteLineAsync("Server is healthy.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command TokenGenerate()
    {
        var socket = CommandSupport.ServerSocket();
        var output = CommandSupport.Output();
        var spiffeId = CommandSupport.String("-spiffeID", "Additional SPIFFE ID to assign the token owner (optional)");
        var ttl = CommandSupport.Int("-ttl", "Token TTL in seconds", (int)Server.Api.AdminApiService.DefaultJoinTokenTtl.TotalSeconds);
        var command = CommandSupport.Command("generate", "Generates a join token", socket, output, spiffeId, ttl);
        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            var seconds = result.GetValue(ttl);
            if (seconds <= 0)
            {
                throw new CliException($"-ttl: must be a positive number of seconds, got {seconds}");
            }

            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            var response = await client.CreateJoinTokenAsync(
                new CreateJoinTokenRequest { TtlSeconds = seconds, SpiffeId = result.GetValue(spiffeId) ?? string.Empty }, cancellationToken: ct);
            await stdout.WriteLineAsync(CommandSupport.WantsJson(result, output) ? CommandSupport.ToJson(response) : $"Token: {response.Token}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Agent()
    {
        var agent = new Command("agent", "Attested agents");
        agent.Subcommands.Add(AgentList("list", "Lists attested agents and their SPIFFE IDs", count: false));
        agent.Subcommands.Add(AgentList("count", "Count attested agents", count: true));
        agent.Subcommands.Add(AgentShow());
        agent.Subcommands.Add(AgentById("evict", "Evicts an attested agent given its SPIFFE ID (it must attest again; lifts a ban)", "evict", "Agent evicted successfully",
            (client, id, ct) => client.EvictAgentAsync(new EvictAgentRequest { SpiffeId = id }, cancellationToken: ct).ResponseAsync));
        agent.Subcommands.Add(AgentById("ban", "Ban an attested agent given its SPIFFE ID (refused until evicted)", "ban", "Agent banned successfully",
            (client, id, ct) => client.BanAgentAsync(new BanAgentRequest { SpiffeId = id }, cancellationToken: ct).ResponseAsync));
        return agent;
    }

    private static Command AgentList(string name, string description, bool count)
    {
        var socket = CommandSupport.ServerSocket();
        var output = CommandSupport.Output();
        var selector = CommandSupport.List("-selector", "A colon-delimited type:value selector. Can be used more than once (agents holding all of them)");
        var attestationType = CommandSupport.String("-attestationType", "Filter by attestation type, like join_token");
        var banned = CommandSupport.String("-banned", "Filter based on string received, 'true': banned agents, 'false': not banned agents, other value will return all.");
        var expiresBefore = CommandSupport.String("-expiresBefore", "Filter by expiration time (format: \"2006-01-02 15:04:05 -0700 -07\")");
        var command = CommandSupport.Command(name, description, socket, output, selector, attestationType, banned, expiresBefore);
        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            var request = new ListAgentsRequest
            {
                AttestationType = result.GetValue(attestationType) ?? string.Empty,
                Banned = result.GetValue(banned) is "true" or "false" ? result.GetValue(banned) : string.Empty,
            };
            var errors = new List<string>();
            foreach (var text in result.GetValue(selector) ?? [])
            {
                if (Entries.Selector.TryParse(text, out var parsed, out var error))
                {
                    request.Selectors.Add(new Selector { Type = parsed.Type, Value = parsed.Value });
                }
                else
                {
                    errors.Add($"-selector: error parsing selector \"{text}\": {error}");
                }
            }

            if (result.GetValue(expiresBefore) is { } before)
            {
                // Go's layout "2006-01-02 15:04:05 -0700 -07": a time, a numeric offset and the zone's abbreviation.
                var parts = before.Split(' ');
                if (parts.Length == 4 && DateTimeOffset.TryParseExact(string.Join(' ', parts[..3]), "yyyy-MM-dd HH:mm:ss zzz", CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
                {
                    request.ExpiresBefore = time.ToUnixTimeSeconds();
                }
                else
                {
                    errors.Add($"-expiresBefore: date is not valid: \"{before}\" (format: \"2006-01-02 15:04:05 -0700 -07\")");
                }
            }

            CommandSupport.ThrowIfAny(errors);
            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            var response = await client.ListAgentsAsync(request, cancellationToken: ct);
            if (count)
            {
                await stdout.WriteLineAsync(CommandSupport.WantsJson(result, output)
                    ? $"{{\"count\": {response.Agents.Count}}}"
                    : CommandSupport.Count(response.Agents.Count, "attested ", "agent", "agents"));
                return ExitCodes.Success;
            }

            if (CommandSupport.WantsJson(result, output))
            {
                await stdout.WriteLineAsync(CommandSupport.ToJson(response));
                return ExitCodes.Success;
            }

            var text2 = new StringBuilder();
            text2.Append("Found ").Append(response.Agents.Count).Append(response.Agents.Count == 1 ? " attested agent:" : " attested agents:").AppendLine().AppendLine();
            foreach (var agent in response.Agents)
            {
                text2.Append(Format(agent)).AppendLine();
            }

            await stdout.WriteAsync(text2.ToString());
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command AgentShow()
    {
        var socket = CommandSupport.ServerSocket();
        var output = CommandSupport.Output();
        var spiffeId = CommandSupport.String("-spiffeID", "The SPIFFE ID of the agent to show (agent identity)");
        var command = CommandSupport.Command("show", "Shows the details of an attested agent given its SPIFFE ID", socket, output, spiffeId);
        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            var id = CommandSupport.Required(result, spiffeId);
            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            var response = await client.ListAgentsAsync(new ListAgentsRequest(), cancellationToken: ct);
            var agent = response.Agents.FirstOrDefault(a => a.SpiffeId == id) ?? throw new CliException($"agent \"{id}\" not found", ExitCodes.NotFound);
            await stdout.WriteAsync(CommandSupport.WantsJson(result, output)
                ? CommandSupport.ToJson(agent) + Environment.NewLine
                : "Found an attested agent:" + Environment.NewLine + Environment.NewLine + Format(agent));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command AgentById(string name, string description, string verb, string done, Func<Admin.AdminClient, string, CancellationToken, Task> call)
    {
        var socket = CommandSupport.ServerSocket();
        var spiffeId = CommandSupport.String("-spiffeID", $"The SPIFFE ID of the agent to {verb} (agent identity)");
        var command = CommandSupport.Command(name, description, socket, spiffeId);
        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            var id = CommandSupport.Required(result, spiffeId);
            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            await call(client, id, ct);
            await stdout.WriteLineAsync(done);
            return ExitCodes.Success;
        });
        return command;
    }

    private static string Format(AgentInfo agent)
    {
        var text = new StringBuilder();
        text.Append("SPIFFE ID         : ").AppendLine(agent.SpiffeId);
        text.Append("Attestation type  : ").AppendLine(agent.AttestationType);
        text.Append("Expiration time   : ").AppendLine(CommandSupport.FormatTime(agent.X509SvidExpiresAt));
        text.Append("Serial number     : ").AppendLine(agent.X509SvidSerialNumber.Length == 0 ? string.Empty : Server.Ca.CredentialBuilder.SerialToDecimal(Convert.FromHexString(agent.X509SvidSerialNumber)));
        text.Append("Banned            : ").AppendLine(agent.Banned ? "true" : "false");
        foreach (var selector in agent.Selectors)
        {
            text.Append("Selector          : ").Append(selector.Type).Append(':').AppendLine(selector.Value);
        }

        return text.ToString();
    }
}
