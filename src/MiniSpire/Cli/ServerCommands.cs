using System.Text;
using MiniSpire.Proto;
using Spiffe.Transport;

namespace MiniSpire.Cli;

/// <summary><c>minispire server token generate</c>, <c>agent list|evict</c> and <c>healthcheck</c>.</summary>
internal static class ServerCommands
{
    public static async Task<int> TokenGenerateAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var flags = CommandSupport.NewFlags("token generate", output: true)
            .String("spiffeID", "Additional SPIFFE ID to assign the token owner (optional)")
            .String("ttl", "Token TTL in seconds (default 600)");
        CommandSupport.ParseOrThrow(flags, args);
        var errors = new List<string>();
        var ttl = CommandSupport.Seconds(flags, "ttl", errors);
        if (ttl == 0)
        {
            errors.Add("-ttl: must be a positive number of seconds, got \"0\"");
        }

        if (errors.Count > 0)
        {
            throw new CliException(string.Join("; ", errors));
        }

        var (channel, client) = AdminClient.Connect(CommandSupport.SocketPath(flags));
        using var _ = channel;
        var response = await client.CreateJoinTokenAsync(
            new CreateJoinTokenRequest { TtlSeconds = ttl ?? 0, SpiffeId = flags.GetString("spiffeID") ?? string.Empty }, cancellationToken: ct);
        await stdout.WriteLineAsync(CommandSupport.WantsJson(flags) ? CommandSupport.ToJson(response) : $"Token: {response.Token}");
        return 0;
    }

    public static async Task<int> AgentAsync(string verb, IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        switch (verb)
        {
            case "list":
            {
                var flags = CommandSupport.NewFlags("agent list", output: true);
                CommandSupport.ParseOrThrow(flags, args);
                var (channel, client) = AdminClient.Connect(CommandSupport.SocketPath(flags));
                using var _ = channel;
                var response = await client.ListAgentsAsync(new ListAgentsRequest(), cancellationToken: ct);
                if (CommandSupport.WantsJson(flags))
                {
                    await stdout.WriteLineAsync(CommandSupport.ToJson(response));
                    return 0;
                }

                var text = new StringBuilder();
                text.Append("Found ").Append(response.Agents.Count).Append(response.Agents.Count == 1 ? " attested agent:" : " attested agents:").AppendLine().AppendLine();
                foreach (var agent in response.Agents)
                {
                    text.Append(Format(agent)).AppendLine();
                }

                await stdout.WriteAsync(text.ToString());
                return 0;
            }

            case "show":
            {
                var flags = CommandSupport.NewFlags("agent show", output: true).String("spiffeID", "The SPIFFE ID of the agent to show (agent identity)");
                CommandSupport.ParseOrThrow(flags, args);
                var id = flags.GetString("spiffeID");
                if (string.IsNullOrEmpty(id))
                {
                    throw new CliException("-spiffeID: is required");
                }

                var (channel, client) = AdminClient.Connect(CommandSupport.SocketPath(flags));
                using var _ = channel;
                var response = await client.ListAgentsAsync(new ListAgentsRequest(), cancellationToken: ct);
                var agent = response.Agents.FirstOrDefault(a => a.SpiffeId == id) ?? throw new CliException($"agent \"{id}\" not found");
                await stdout.WriteAsync(CommandSupport.WantsJson(flags) ? CommandSupport.ToJson(agent) + Environment.NewLine : "Found an attested agent:" + Environment.NewLine + Environment.NewLine + Format(agent));
                return 0;
            }

            case "evict":
            {
                var flags = CommandSupport.NewFlags("agent evict", output: false).String("spiffeID", "The SPIFFE ID of the agent to evict (agent identity)");
                CommandSupport.ParseOrThrow(flags, args);
                var id = flags.GetString("spiffeID");
                if (string.IsNullOrEmpty(id))
                {
                    throw new CliException("-spiffeID: is required");
                }

                var (channel, client) = AdminClient.Connect(CommandSupport.SocketPath(flags));
                using var _ = channel;
                await client.EvictAgentAsync(new EvictAgentRequest { SpiffeId = id }, cancellationToken: ct);
                await stdout.WriteLineAsync("Agent evicted successfully");
                return 0;
            }

            default:
                throw new CliException($"unknown agent command \"{verb}\" (list, show, evict)");
        }
    }

    private static string Format(AgentInfo agent)
    {
        var text = new StringBuilder();
        text.Append("SPIFFE ID         : ").AppendLine(agent.SpiffeId);
        text.Append("Attestation type  : ").AppendLine(agent.AttestationType);
        text.Append("Expiration time   : ").AppendLine(CommandSupport.FormatTime(agent.X509SvidExpiresAt));
        text.Append("Serial number     : ").AppendLine(Server.Ca.CredentialBuilder.SerialToDecimal(Convert.FromHexString(agent.X509SvidSerialNumber)));
        foreach (var selector in agent.Selectors)
        {
            text.Append("Selector          : ").Append(selector.Type).Append(':').AppendLine(selector.Value);
        }

        return text.ToString();
    }

    public static async Task<int> HealthcheckAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var flags = CommandSupport.NewFlags("healthcheck", output: false);
        CommandSupport.ParseOrThrow(flags, args);
        var (channel, client) = AdminClient.Connect(CommandSupport.SocketPath(flags));
        using var _ = channel;
        try
        {
            var health = await client.HealthAsync(new HealthRequest(), deadline: TimeProvider.System.GetUtcNow().UtcDateTime.AddSeconds(5), cancellationToken: ct);
            if (!health.Serving)
            {
                await stderr.WriteLineAsync("Server is unhealthy: no signing authority");
                return 1;
            }
        }
        catch (Grpc.Core.RpcException e)
        {
            await stderr.WriteLineAsync($"Server is unhealthy: unable to determine health: {SocketConnectException.Find(e)?.Message ?? e.Status.Detail}");
            return 1;
        }

        await stdout.WriteLineAsync("Server is healthy.");
        return 0;
    }
}
