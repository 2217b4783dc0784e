using System.CommandLine;
using System.Net.Sockets;
using Google.Protobuf;
using Grpc.Core;
using MiniSpire.Config;
using Spiffe.Jwt;
using Spiffe.WorkloadApi;

namespace MiniSpire.Cli;

/// <summary>A socket a command talks to, named in the error when nothing answers there.</summary>
internal sealed record Endpoint(string What, string Path);

/// <summary>
/// What every command shares: flags spelled as SPIRE's (Go's flag package: one dash, <c>-name value</c> or
/// <c>-name=value</c>, a boolean alone or <c>-name=false</c>, list flags repeated), <c>-socketPath</c>,
/// <c>-output</c>, and one mapping of failures to messages and <see cref="ExitCodes"/>.
/// </summary>
internal static class CommandSupport
{
    private static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(true).WithIndentation());

    public static Option<string> String(string name, string description, string? defaultValue = null)
    {
        var option = new Option<string>(name) { Description = description, HelpName = "string" };
        if (defaultValue is not null)
        {
            option.DefaultValueFactory = _ => defaultValue;
        }

        return option;
    }

    public static Option<string[]> List(string name, string description) =>
        new(name) { Description = description, HelpName = "value", Arity = ArgumentArity.OneOrMore, AllowMultipleArgumentsPerToken = false };

    public static Option<bool> Bool(string name, string description) => new(name) { Description = description, Arity = ArgumentArity.ZeroOrOne };

    public static Option<int> Int(string name, string description, int defaultValue) =>
        new(name) { Description = description, HelpName = "int", DefaultValueFactory = _ => defaultValue };

    public static Option<long> Int64(string name, string description, long defaultValue) =>
        new(name) { Description = description, HelpName = "int", DefaultValueFactory = _ => defaultValue };

    public static Option<string> ServerSocket() =>
        String("-socketPath", "Path to the MiniSpire server API socket", ServerOptions.DefaultSocketPath);

    public static Option<string> Output() =>
        String("-output", "Desired output format (pretty, json)", "pretty").AcceptOnlyFromAmong("pretty", "json");

    public static Command Command(string name, string description, params Option[] options)
    {
        var command = new Command(name, description);
        foreach (var option in options)
        {
            command.Options.Add(option);
        }

        return command;
    }

    /// <summary>
    /// Sets the command's action: <paramref name="run"/> with the invocation's stdout and stderr, every failure
    /// turned into one "Error: ..." line and its exit code; <paramref name="endpoint"/> names the socket.
    /// </summary>
    public static void SetRun(this Command command, Func<ParseResult, Endpoint?> endpoint, Func<ParseResult, TextWriter, TextWriter, CancellationToken, Task<int>> run) =>
        command.SetAction(async (result, ct) =>
        {
            var stdout = result.InvocationConfiguration.Output;
            var stderr = result.InvocationConfiguration.Error;
            try
            {
                return await run(result, stdout, stderr, ct);
            }
            catch (CliException e)
            {
                await stderr.WriteLineAsync("Error: " + e.Message);
                return e.ExitCode;
            }
            catch (RpcException e)
            {
                var (message, code) = Describe(e, endpoint(result));
                await stderr.WriteLineAsync("Error: " + message);
                return code;
            }
            catch (Exception e) when (e is WorkloadApiResponseException or JwtSvidException or FormatException)
            {
                await stderr.WriteLineAsync("Error: " + e.Message);
                return ExitCodes.Failure;
            }
        });

    /// <summary>The message and exit code of a failed call; a socket nothing listens on is said as such.</summary>
    public static (string Message, int ExitCode) Describe(RpcException e, Endpoint? endpoint)
    {
        var what = endpoint is null ? "MiniSpire" : $"MiniSpire {endpoint.What} at {endpoint.Path}";
        switch (e.StatusCode)
        {
            case StatusCode.Unavailable:
                return FindSocketError(e) is { } socketError
                    ? ($"no {what} ({SocketErrorText(socketError, endpoint)})", ExitCodes.Unreachable)
                    : ($"{what} is unavailable: {e.Status.Detail}", ExitCodes.Unreachable);
            case StatusCode.DeadlineExceeded:
                return ($"{what} did not answer in time: {e.Status.Detail}", ExitCodes.Unreachable);
            case StatusCode.NotFound:
                return (e.Status.Detail, ExitCodes.NotFound);
            default:
                return ($"{e.StatusCode}: {e.Status.Detail}", ExitCodes.Failure);
        }
    }

    /// <summary>
    /// The connect error as the system says it. .NET reports a Unix socket path that does not exist as
    /// AddressNotAvailable ("Cannot assign requested address"); the system's word for it is ENOENT.
    /// </summary>
    private static string SocketErrorText(SocketException error, Endpoint? endpoint) =>
        error.SocketErrorCode == SocketError.AddressNotAvailable && endpoint is not null && !File.Exists(endpoint.Path)
            ? "No such file or directory"
            : error.Message;

    public static SocketException? FindSocketError(RpcException e)
    {
        for (Exception? inner = e.Status.DebugException ?? e.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
            {
                return socket;
            }
        }

        return null;
    }

    public static bool WantsJson(ParseResult result, Option<string> output) => result.GetValue(output) == "json";

    public static string ToJson(IMessage message) => Json.Format(message);

    /// <summary>A non-negative whole number of seconds from an int flag.</summary>
    public static int Seconds(ParseResult result, Option<int> option, List<string> errors, string what)
    {
        var value = result.GetValue(option);
        if (value < 0)
        {
            errors.Add($"{option.Name}: a positive {what} is required, got {value}");
        }

        return value;
    }

    public static void ThrowIfAny(List<string> errors)
    {
        if (errors.Count > 0)
        {
            throw new CliException(string.Join("; ", errors));
        }
    }

    public static string Required(ParseResult result, Option<string> option)
    {
        var value = result.GetValue(option);
        return string.IsNullOrEmpty(value) ? throw new CliException($"{option.Name}: is required") : value;
    }

    public static string FormatTime(long unixSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(unixSeconds).ToString("yyyy-MM-dd HH:mm:ss +0000 UTC", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>"1 registration entry", "2 registration entries": SPIRE's count lines.</summary>
    public static string Count(int count, string prefix, string one, string many) => $"{count} {prefix}{(count == 1 ? one : many)}";
}
