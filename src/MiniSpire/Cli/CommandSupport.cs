using Google.Protobuf;
using MiniSpire.Config;

namespace MiniSpire.Cli;

/// <summary>What every admin command shares: -socketPath, -output, flag errors.</summary>
internal static class CommandSupport
{
    private static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true).WithIndentation());

    public static FlagSet NewFlags(string command, bool output) =>
        output
            ? Base(command).String("output", "Desired output format (pretty, json); default: pretty")
            : Base(command);

    /// <summary>Parses and throws a <see cref="CliException"/> listing every error.</summary>
    public static void ParseOrThrow(FlagSet flags, IReadOnlyList<string> args)
    {
        var errors = flags.Parse(args).ToList();
        if (flags.GetString("output") is { } output && output is not ("pretty" or "json"))
        {
            errors.Add($"-output: unknown format \"{output}\" (pretty, json)");
        }

        if (errors.Count > 0)
        {
            throw new CliException(string.Join("; ", errors));
        }
    }

    public static string SocketPath(FlagSet flags) => flags.GetString("socketPath") ?? ServerOptions.DefaultSocketPath;

    public static bool WantsJson(FlagSet flags) => flags.GetString("output") == "json";

    public static string ToJson(IMessage message) => Json.Format(message);

    /// <summary>A non-negative whole number of seconds from a flag, or null when absent.</summary>
    public static int? Seconds(FlagSet flags, string name, List<string> errors)
    {
        if (flags.GetString(name) is not { } text)
        {
            return null;
        }

        if (!int.TryParse(text, out var value) || value < 0)
        {
            errors.Add($"-{name}: must be a positive number of seconds, got \"{text}\"");
            return null;
        }

        return value;
    }

    public static string FormatTime(long unixSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds).ToString("yyyy-MM-dd HH:mm:ss +0000 UTC");

    private static FlagSet Base(string command) =>
        new FlagSet(command).String("socketPath", $"Path to the MiniSpire server API socket (default \"{ServerOptions.DefaultSocketPath}\")");
}
