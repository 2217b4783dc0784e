using System.CommandLine;
using System.CommandLine.Help;
using System.Reflection;

namespace MiniSpire.Cli;

/// <summary>
/// The <c>minispire</c> command line: <c>minispire server ...</c> as <c>spire-server ...</c> and
/// <c>minispire agent ...</c> as <c>spire-agent ...</c>, with SPIRE's commands, flags and defaults, parsed by
/// System.CommandLine with Go's single-dash flag names. Thin: parsing and printing; the work is done by the
/// server and the agent.
/// </summary>
internal static class MiniSpireCli
{
    private static readonly ParserConfiguration Parsing = new() { EnablePosixBundling = false, ResponseFileTokenReplacer = null };

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken ct = default)
    {
        var root = Build();
        var result = root.Parse(args, Parsing);
        var invocation = new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false };
        if (result.Errors.Count > 0 && result.Action is not HelpAction)
        {
            // Go's flag package names the command and prints its flags; so do we, on stderr, with a usage exit code.
            var path = CommandPath(result.CommandResult);
            foreach (var error in result.Errors)
            {
                await stderr.WriteLineAsync($"Error: {string.Join(' ', ["minispire", .. path])}: {error.Message}");
            }

            await root.Parse([.. path, "-h"], Parsing).InvokeAsync(new InvocationConfiguration { Output = stderr, Error = stderr }, ct);
            return ExitCodes.UsageOrConfig;
        }

        return await result.InvokeAsync(invocation, ct);
    }

    /// <summary>The whole command tree; public so the tests can walk it.</summary>
    public static Command Build()
    {
        // Named "minispire" whatever the process is (a test host, `dotnet minispire.dll`), so help says what to type.
        var root = new Command("minispire", "MiniSpire: a small SPIRE server and agent, with spire-server's and spire-agent's commands and flags.");
        root.Options.Add(new HelpOption("-h", "-help", "--help"));
        var version = new Option<bool>("-version", "--version") { Description = "Print the version and exit" };
        root.Options.Add(version);
        root.Subcommands.Add(ServerCommands.Build());
        root.Subcommands.Add(AgentCommands.Build());
        root.SetAction(async (result, ct) =>
        {
            if (result.GetValue(version))
            {
                await result.InvocationConfiguration.Output.WriteLineAsync(Version);
                return ExitCodes.Success;
            }

            // Bare `minispire`: the commands, and a usage exit code as spire-server gives with no command.
            await root.Parse(["-h"], Parsing).InvokeAsync(new InvocationConfiguration { Output = result.InvocationConfiguration.Error }, ct);
            return ExitCodes.UsageOrConfig;
        });
        return root;
    }

    public static string Version =>
        typeof(MiniSpireCli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(MiniSpireCli).Assembly.GetName().Version?.ToString() ?? "unknown";

    private static List<string> CommandPath(System.CommandLine.Parsing.CommandResult? result)
    {
        var path = new List<string>();
        for (var at = result; at?.Parent is not null; at = at.Parent as System.CommandLine.Parsing.CommandResult)
        {
            path.Insert(0, at.Command.Name);
        }

        return path;
    }
}

/// <summary>A user error found by the CLI itself, with the exit code it ends the command with.</summary>
internal sealed class CliException : Exception
{
    public CliException(string message, int exitCode = ExitCodes.UsageOrConfig)
        : base(message) => ExitCode = exitCode;

    public CliException()
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public int ExitCode { get; } = ExitCodes.UsageOrConfig;
}
