using Grpc.Core;
using MiniSpire.Config;
using MiniSpire.Server;
using Spiffe.Transport;

namespace MiniSpire.Cli;

/// <summary>
/// The <c>minispire</c> command line: <c>minispire server run|token|entry|bundle|agent|healthcheck</c>, with
/// SPIRE's spelling of commands and flags. Thin: parsing and printing; the work is done by the server.
/// </summary>
internal static class MiniSpireCli
{
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        if (args.Length >= 1 && args[0] == "agent")
        {
            try
            {
                return await AgentCommands.RunAsync(args[1..], stdout, stderr, ct);
            }
            catch (CliException e)
            {
                await stderr.WriteLineAsync("Error: " + e.Message);
                return 1;
            }
        }

        if (args.Length < 2 || args[0] != "server")
        {
            await stderr.WriteLineAsync(Usage);
            return 1;
        }

        var rest = args.Skip(2).ToList();
        try
        {
            return args[1] switch
            {
                "run" => await RunServerAsync(rest, stdout, stderr, ct),
                "healthcheck" => await ServerCommands.HealthcheckAsync(rest, stdout, stderr, ct),
                "token" when rest.Count > 0 && rest[0] == "generate" => await ServerCommands.TokenGenerateAsync(rest[1..], stdout, stderr, ct),
                "entry" when rest.Count > 0 => await EntryCommands.RunAsync(rest[0], rest[1..], stdout, stderr, ct),
                "bundle" when rest.Count > 0 => await BundleCommands.RunAsync(rest[0], rest[1..], stdout, stderr, ct),
                "agent" when rest.Count > 0 => await ServerCommands.AgentAsync(rest[0], rest[1..], stdout, stderr, ct),
                _ => await UnknownAsync(stderr),
            };
        }
        catch (RpcException e)
        {
            await stderr.WriteLineAsync(SocketConnectException.Find(e) is { } connect ? "Error: " + connect.Message
                : e.StatusCode == StatusCode.Unavailable ? $"Error: the server is unreachable on its admin socket: {e.Status.Detail}"
                : $"Error: {e.StatusCode}: {e.Status.Detail}");
            return 1;
        }
        catch (CliException e)
        {
            await stderr.WriteLineAsync("Error: " + e.Message);
            return 1;
        }
    }

    private const string Usage = """
        Usage: minispire server <command> [flags]
        Commands:
          run -config <file>
          healthcheck
          token generate [-spiffeID <id>] [-ttl <seconds>]
          entry create|show|update|delete
          bundle show|set|list|delete
          agent list|show|evict
        Every command but run takes -socketPath (default /tmp/minispire-server/private/api.sock).
        """;

    private static async Task<int> UnknownAsync(TextWriter stderr)
    {
        await stderr.WriteLineAsync(Usage);
        return 1;
    }

    private static async Task<int> RunServerAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        var flags = new FlagSet("server run").String("config", "Path to the server configuration file (TOML)");
        var errors = flags.Parse(args);
        if (errors.Count > 0 || flags.GetString("config") is not { } configPath)
        {
            await stderr.WriteLineAsync(string.Join(Environment.NewLine, errors.Append("-config is required").Distinct()) + Environment.NewLine + flags.Usage());
            return 1;
        }

        ServerOptions options;
        try
        {
            options = ServerConfigLoader.LoadFile(configPath);
            await using var app = await ServerHost.BuildAsync(options, ct: ct);
            await app.RunAsync();
            return 0;
        }
        catch (ConfigException e)
        {
            await stderr.WriteLineAsync(e.Message);
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
        {
            // A port in use, a socket or data directory that cannot be created, a datastore that cannot be opened.
            await stderr.WriteLineAsync($"Error: the server cannot start: {e.Message}");
            return 1;
        }
    }
}

/// <summary>A user error found by the CLI itself.</summary>
internal sealed class CliException : Exception
{
    public CliException(string message)
        : base(message)
    {
    }

    public CliException()
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
