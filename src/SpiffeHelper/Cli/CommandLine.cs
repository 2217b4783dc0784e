using System.Diagnostics.CodeAnalysis;

namespace SpiffeHelper.Cli;

/// <summary>What the command line asked for.</summary>
internal sealed record CommandLineArguments(string ConfigFile, bool? DaemonMode, bool ShowVersion, bool ShowHelp);

/// <summary>
/// The Go tool's flags, parsed as Go's flag package does: one or two dashes, <c>-flag=value</c> or
/// <c>-flag value</c>, a bare boolean flag meaning true. A hand parser: four flags do not need a
/// framework, and this keeps Go's exact forms (single-dash long names, <c>-daemon-mode false</c>).
/// </summary>
internal static class CommandLine
{
    public const string Usage = """
        Usage: spiffe-helper [-config <file>] [-daemon-mode[=true|false]] [-version] [-help]

          -config <file>        the TOML config file (default "helper.conf")
          -daemon-mode <bool>   overrides daemon_mode of the file when given: true keeps running and
                                renews; false writes the files once and exits (init container)
          -version              prints the version and exits
          -help                 prints this text and exits

        Flags take one or two dashes. Exit codes: 0 success (also on SIGTERM/SIGINT), 1 runtime failure,
        2 bad command line or config, 3 one-shot mode timed out waiting for a valid SVID, 4 one-shot
        mode could not write the files.
        """;

    public static bool TryParse(IReadOnlyList<string> args, [NotNullWhen(true)] out CommandLineArguments? parsed, [NotNullWhen(false)] out string? error)
    {
        var config = "helper.conf";
        bool? daemonMode = null;
        bool version = false, help = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith('-') || arg is "-" or "--")
            {
                return Fail($"unexpected argument \"{arg}\"", out parsed, out error);
            }

            var body = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg[1..];
            string? value = null;
            var equals = body.IndexOf('=', StringComparison.Ordinal);
            if (equals >= 0)
            {
                value = body[(equals + 1)..];
                body = body[..equals];
            }

            switch (body)
            {
                case "config":
                    if (value is null)
                    {
                        if (i + 1 >= args.Count)
                        {
                            return Fail("flag -config needs a file name", out parsed, out error);
                        }

                        value = args[++i];
                    }

                    if (value.Length == 0)
                    {
                        return Fail("flag -config needs a file name", out parsed, out error);
                    }

                    config = value;
                    break;

                case "daemon-mode":
                    if (value is null && i + 1 < args.Count && IsBoolean(args[i + 1]))
                    {
                        value = args[++i];
                    }

                    if (value is null)
                    {
                        daemonMode = true;
                    }
                    else if (TryParseBoolean(value, out var b))
                    {
                        daemonMode = b;
                    }
                    else
                    {
                        return Fail($"invalid value \"{value}\" for flag -daemon-mode: use true or false", out parsed, out error);
                    }

                    break;

                case "version" when value is null:
                    version = true;
                    break;

                case "help" or "h" when value is null:
                    help = true;
                    break;

                default:
                    return Fail($"flag provided but not defined: {arg}", out parsed, out error);
            }
        }

        parsed = new CommandLineArguments(config, daemonMode, version, help);
        error = null;
        return true;
    }

    private static bool IsBoolean(string text) => TryParseBoolean(text, out _);

    private static bool TryParseBoolean(string text, out bool value)
    {
        switch (text)
        {
            case "true" or "TRUE" or "True" or "1" or "t" or "T":
                value = true;
                return true;
            case "false" or "FALSE" or "False" or "0" or "f" or "F":
                value = false;
                return true;
            default:
                value = false;
                return false;
        }
    }

    private static bool Fail(string message, out CommandLineArguments? parsed, out string? error)
    {
        parsed = null;
        error = message;
        return false;
    }
}
