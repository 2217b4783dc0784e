using System.Text.RegularExpressions;
using MiniSpire.Cli;
using MiniSpire.Tests.Support;

namespace MiniSpire.Tests.Cli;

/// <summary>
/// Every spire-server / spire-agent command and flag of issue 19 against MiniSpire's parser: `-h` and `-help`
/// print each flag (with its default where SPIRE's has one) and exit 0; an unknown flag names the command, lists
/// its flags and exits with the usage code. Facts from SPIRE's cmd/spire-server/cli and cmd/spire-agent/cli.
/// </summary>
public sealed class SpireCliSpecTests
{
    private const string ServerSocket = "-socketPath=/tmp/spire-server/private/api.sock";
    private const string WorkloadSocket = "-socketPath=/tmp/spire-agent/public/api.sock";
    private const string ServerRunFlags = "-config=conf/server/server.conf -bindAddress -serverPort -dataDir -logFormat -logLevel -trustDomain -socketPath";
    private const string AgentRunFlags = "-config=conf/agent/agent.conf -dataDir -joinToken -joinTokenFile -logFormat -logLevel -serverAddress -serverPort -trustDomain -trustBundle -insecureBootstrap -socketPath";
    private const string EntryFlags = "-entryID -parentID -spiffeID -selector -x509SVIDTTL=0 -jwtSVIDTTL=0 -data -federatesWith -admin -downstream -storeSVID -entryExpiry=0 -dns -hint -output=pretty";
    private const string AgentFilters = "-selector -attestationType -expiresBefore -banned -output=pretty";

    /// <summary>Command, then its flags: <c>-name</c>, or <c>-name=default</c> when the help must show that default.</summary>
    public static TheoryData<string, string> Commands => new()
    {
        { "server run", ServerRunFlags },
        { "server validate", ServerRunFlags },
        { "server healthcheck", $"{ServerSocket} -shallow -verbose" },
        { "server token generate", $"{ServerSocket} -spiffeID -ttl=600 -output=pretty" },
        { "server entry create", $"{ServerSocket} {EntryFlags} -node" },
        { "server entry update", $"{ServerSocket} {EntryFlags}" },
        { "server entry show", $"{ServerSocket} -entryID -spiffeID -parentID -selector -output=pretty" },
        { "server entry count", $"{ServerSocket} -spiffeID -parentID -selector -output=pretty" },
        { "server entry delete", $"{ServerSocket} -entryID" },
        { "server bundle show", $"{ServerSocket} -format=pem -output=pretty" },
        { "server bundle list", $"{ServerSocket} -id -format=pem -output=pretty" },
        { "server bundle count", $"{ServerSocket} -output=pretty" },
        { "server bundle set", $"{ServerSocket} -id -path -format=pem" },
        { "server bundle delete", $"{ServerSocket} -id" },
        { "server agent list", $"{ServerSocket} {AgentFilters}" },
        { "server agent count", $"{ServerSocket} {AgentFilters}" },
        { "server agent show", $"{ServerSocket} -spiffeID -output=pretty" },
        { "server agent evict", $"{ServerSocket} -spiffeID" },
        { "server agent ban", $"{ServerSocket} -spiffeID" },
        { "agent run", AgentRunFlags },
        { "agent validate", AgentRunFlags },
        { "agent api fetch", $"{WorkloadSocket} -timeout=5s -silent -write -output=pretty" },
        { "agent api fetch x509", $"{WorkloadSocket} -timeout=5s -silent -write -output=pretty" },
        { "agent api fetch jwt", $"{WorkloadSocket} -timeout=5s -audience -spiffeID" },
        { "agent api validate jwt", $"{WorkloadSocket} -timeout=5s -audience -svid" },
        { "agent api watch", WorkloadSocket },
        { "agent healthcheck", $"{WorkloadSocket} -shallow -verbose" },
        { "agent attest", "-pid -socketPath=/tmp/spire-agent/private/admin.sock" },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Help_EveryCommand_ListsEachFlagWithItsDefaultAndExitsZero(string command, string flags)
    {
        foreach (var help in new[] { "-h", "-help" })
        {
            var result = await RunAsync([.. command.Split(' '), help]);

            Assert.True(result.ExitCode == ExitCodes.Success, $"{command} {help}: {result.ExitCode} {result.Stderr}");
            Assert.Matches($@"minispire {Regex.Escape(command)}( \[command\])? \[options\]", result.Stdout);
            foreach (var flag in flags.Split(' '))
            {
                var (name, defaultValue) = flag.Split('=', 2) is [var n, var d] ? (n, d) : (flag, null);
                var line = Assert.Single(result.Stdout.Split('\n'), l => Regex.IsMatch(l, $@"^\s+{Regex.Escape(name)}(\s|$)"));
                if (defaultValue is not null)
                {
                    Assert.Contains($"[default: {defaultValue}]", line, StringComparison.Ordinal);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task UnknownFlag_EveryCommand_NamesTheCommandListsItsFlagsAndExitsUsage(string command, string flags)
    {
        var result = await RunAsync([.. command.Split(' '), "-noSuchFlag"]);

        Assert.Equal(ExitCodes.UsageOrConfig, result.ExitCode);
        Assert.Contains($"Error: minispire {command}: Unrecognized command or argument '-noSuchFlag'", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(flags.Split(' ')[0].Split('=')[0], result.Stderr, StringComparison.Ordinal);
        Assert.Equal(string.Empty, result.Stdout);
    }

    [Theory]
    [InlineData]
    [InlineData("-h")]
    [InlineData("-help")]
    public async Task Root_BareOrHelp_ListsServerAndAgent(params string[] args)
    {
        var result = await RunAsync(args);
        var text = result.Stdout + result.Stderr;

        Assert.Equal(args.Length == 0 ? ExitCodes.UsageOrConfig : ExitCodes.Success, result.ExitCode);
        Assert.Matches(@"(?m)^\s+server\s", text);
        Assert.Matches(@"(?m)^\s+agent\s", text);
    }

    [Fact]
    public async Task Version_PrintsTheVersionAndExitsZero()
    {
        var result = await RunAsync(["-version"]);

        Assert.Equal(ExitCodes.Success, result.ExitCode);
        Assert.Matches(@"^\d+\.\d+\.\d+", result.Stdout.Trim());
    }

    [Theory]
    [InlineData("server", "entry", "show")]
    [InlineData("server", "entry", "count")]
    [InlineData("server", "bundle", "count")]
    [InlineData("server", "agent", "count")]
    [InlineData("server", "healthcheck")]
    public async Task NoServer_SaysNoServerAtThePathAndExitsUnreachable(params string[] command)
    {
        var path = Path.Combine(Path.GetTempPath(), $"no-minispire-{Guid.NewGuid():N}", "api.sock");
        var result = await RunAsync([.. command, "-socketPath", path]);

        Assert.Equal(ExitCodes.Unreachable, result.ExitCode);
        Assert.Equal(
            command[^1] == "healthcheck" ? "Error: server is unhealthy: unable to determine health" : $"Error: no MiniSpire server at {path} (No such file or directory)",
            result.Stderr.Trim());

        Assert.DoesNotContain("localhost:80", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("api", "fetch")]
    [InlineData("api", "fetch", "x509")]
    [InlineData("api", "fetch", "jwt", "-audience", "a")]
    public async Task NoAgent_SaysNoAgentAtThePathAndExitsUnreachable(params string[] command)
    {
        var path = Path.Combine(Path.GetTempPath(), $"no-minispire-{Guid.NewGuid():N}", "api.sock");
        var result = await RunAsync(["agent", .. command, "-socketPath", path]);

        Assert.Equal(ExitCodes.Unreachable, result.ExitCode);
        Assert.Equal($"Error: no MiniSpire agent at {path} (No such file or directory)", result.Stderr.Trim());
    }

    [Theory]
    [InlineData("-timeout", "soon")]
    [InlineData("-timeout", "0s")]
    public async Task ApiFetch_BadTimeout_RefusedNamingTheFlag(string flag, string value)
    {
        var result = await RunAsync(["agent", "api", "fetch", flag, value]);

        Assert.Equal(ExitCodes.UsageOrConfig, result.ExitCode);
        Assert.Contains("-timeout:", result.Stderr, StringComparison.Ordinal);
    }

    private static async Task<CliResult> RunAsync(string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var exit = await MiniSpireCli.RunAsync(args, stdout, stderr).Within();
        return new CliResult(exit, stdout.ToString(), stderr.ToString());
    }
}
