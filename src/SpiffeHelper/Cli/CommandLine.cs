using System.Diagnostics.CodeAnalysis;

namespace SpiffeHelper.Cli;

/// <summary>What the command line asked for.</summary>
/// <param name="ConfigFile">-config, default <c>helper.conf</c>.</param>
/// <param name="DaemonMode">-daemon-mode when given, else null (the config file decides).</param>
/// <param name="ShowVersion">-version.</param>
/// <param name="ShowHelp">-h or -help: print the usage and exit 0.</param>
/// <param name="Ignored">
/// The arguments after the flags, which the Go tool ignores too; <c>-daemon-mode false</c> leaves <c>false</c>
/// (and everything after it) here, because a boolean flag takes its value only as <c>-daemon-mode=false</c>.
/// </param>
internal sealed record CommandLineArguments(string ConfigFile, bool? DaemonMode, bool ShowVersion, bool ShowHelp, IReadOnlyList<string> Ignored);

/// <summary>
/// The Go tool's flags (<c>cmd/spiffe-helper/main.go</c>), parsed by the rules of Go's <c>flag</c> package:
/// one or two dashes; <c>-flag=value</c> or <c>-flag value</c> for <c>-config</c>; a boolean flag
/// (<c>-daemon-mode</c>, <c>-version</c>) is true when bare and takes a value only after <c>=</c> (1, 0, t, f,
/// true, false in Go's spellings); parsing stops at the first argument that is not a flag, or after <c>--</c>;
/// <c>-h</c> and <c>-help</c> ask for the usage; the last of a repeated flag wins; the error texts are Go's.
/// A hand parser: three flags do not need a framework, and no framework parses Go's forms.
/// </summary>
internal static class CommandLine
{
    public const string Usage = """
        Usage: spiffe-helper [-config <file>] [-daemon-mode[=true|false]] [-version] [-help]

          -config <file>        the config file, HCL (the Go tool's) or TOML (default "helper.conf")
          -daemon-mode=<bool>   overrides daemon_mode of the file when given: true keeps running and
                                renews; false writes the files once and exits (init container).
                                A boolean flag takes its value after "=": "-daemon-mode false" means
                                -daemon-mode=true followed by an ignored argument, as in the Go tool.
          -version              prints the version and exits
          -h, -help             prints this text and exits

        Flags take one or two dashes. Exit codes: 0 success (also on SIGTERM/SIGINT), 1 runtime failure,
        2 bad command line or config, 3 one-shot mode timed out waiting for a valid SVID, 4 one-shot
        mode could not write the files.
        """;

    public static bool TryParse(IReadOnlyList<string> args, [NotNullWhen(true)] out CommandLineArguments? parsed, [NotNullWhen(false)] out string? error)
    {
        ArgumentNullException.ThrowIfNull(args);
        var config = "helper.conf";
        bool? daemonMode = null;
        var version = false;
        var i = 0;
        while (i < args.Count)
        {
            var arg = args[i];
            if (arg.Length < 2 || arg[0] != '-')
            {
                break;
            }

            var dashes = arg[1] == '-' ? 2 : 1;
            if (arg == "--")
            {
                i++;
                break;
            }

            var name = arg[dashes..];
            if (name.Length == 0 || name[0] is '-' or '=')
            {
                return Fail($"bad flag syntax: {arg}", out parsed, out error);
            }

            i++;
            string? value = null;
            var equals = name.IndexOf('=', 1);
            if (equals > 0)
            {
                value = name[(equals + 1)..];
                name = name[..equals];
            }

            switch (name)
            {
                case "config":
                    if (value is null)
                    {
                        if (i >= args.Count)
                        {
                            return Fail("flag needs an argument: -config", out parsed, out error);
                        }

                        value = args[i++];
                    }

                    if (value.Length == 0)
                    {
                        return Fail("flag -config needs a file name", out parsed, out error);
                    }

                    config = value;
                    break;

                case "daemon-mode":
                    if (!TryParseBoolean(value, out var daemon))
                    {
                        return Fail($"invalid boolean value \"{value}\" for -{name}: parse error", out parsed, out error);
                    }

                    daemonMode = daemon;
                    break;

                case "version":
                    if (!TryParseBoolean(value, out version))
                    {
                        return Fail($"invalid boolean value \"{value}\" for -{name}: parse error", out parsed, out error);
                    }

                    break;

                case "help" or "h":
                    // As Go's flag: the usage, and nothing after it is looked at.
                    parsed = new CommandLineArguments(config, daemonMode, version, ShowHelp: true, []);
                    error = null;
                    return true;

                default:
                    return Fail($"flag provided but not defined: -{name}", out parsed, out error);
            }
        }

        parsed = new CommandLineArguments(config, daemonMode, version, ShowHelp: false, [.. args.Skip(i)]);
        error = null;
        return true;
    }

    /// <summary>Go's <c>strconv.ParseBool</c>; a bare flag (no value) is true.</summary>
    private static bool TryParseBoolean(string? text, out bool value)
    {
        switch (text)
        {
            case null or "1" or "t" or "T" or "true" or "TRUE" or "True":
                value = true;
                return true;
            case "0" or "f" or "F" or "false" or "FALSE" or "False":
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
