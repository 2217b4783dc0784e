using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SpiffeHelper.Config;

namespace SpiffeHelper.Logging;

/// <summary>
/// One log line per event on standard error, as text (<c>2026-11-28T17:00:00.000Z info: Category[101] message</c>)
/// or as one JSON object with the field names logrus (the Go tool's logger) and most log pipelines use:
/// <c>time</c>, <c>level</c> (trace, debug, info, warning, error, fatal), <c>msg</c>, then <c>logger</c>
/// (the category), <c>event_id</c>, <c>error</c> (an exception) and <c>fields</c> (the message's values).
/// Timestamps are RFC 3339 in UTC with milliseconds; values in messages are rendered by <see cref="LogValues"/>
/// (times as <c>2026-12-02T18:33:52Z</c>, config choices as the config spells them: <c>atomic_dir</c>).
/// </summary>
/// <remarks>
/// Written here rather than taken from Microsoft.Extensions.Logging.Console: that provider is built through a
/// dependency-injection container, which under Native AOT constructs its generic types at run time; measured,
/// that was about a quarter of a one-shot run's CPU (bench/results/gaps.md). Lines are written whole, under a
/// lock, so concurrent events never interleave.
/// </remarks>
internal sealed class StandardErrorLoggerProvider(TextWriter output, LogFormat format, TimeProvider time) : ILoggerProvider
{
    private readonly Lock _lock = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() => output.Flush();

    private void Write(string category, LogLevel level, EventId eventId, string message, Exception? exception, IReadOnlyList<KeyValuePair<string, object?>>? state)
    {
        var timestamp = Rfc3339.FormatMilliseconds(time.GetUtcNow());
        var line = format == LogFormat.Json
            ? JsonLine(timestamp, category, level, eventId, message, exception, state)
            : TextLine(timestamp, category, level, eventId, message, exception);
        lock (_lock)
        {
            output.Write(line);
            output.Flush();
        }
    }

    private static string TextLine(string timestamp, string category, LogLevel level, EventId eventId, string message, Exception? exception)
    {
        var line = new StringBuilder(timestamp.Length + category.Length + message.Length + 32)
            .Append(timestamp).Append(' ').Append(ShortName(level)).Append(": ")
            .Append(category).Append('[').Append(eventId.Id.ToString(CultureInfo.InvariantCulture)).Append("] ")
            .Append(OneLine(message));
        if (exception is not null)
        {
            line.Append(' ').Append(OneLine(exception.ToString()));
        }

        return line.Append('\n').ToString();
    }

    private static string JsonLine(string timestamp, string category, LogLevel level, EventId eventId, string message, Exception? exception, IReadOnlyList<KeyValuePair<string, object?>>? state)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("time", timestamp);
            json.WriteString("level", JsonLevel(level));
            json.WriteString("msg", message);
            json.WriteString("logger", category);
            json.WriteNumber("event_id", eventId.Id);
            if (exception is not null)
            {
                json.WriteString("error", exception.ToString());
            }

            if (state is not null && state.Any(p => p.Key != LogValues.OriginalFormat))
            {
                json.WriteStartObject("fields");
                foreach (var (key, value) in state)
                {
                    if (key != LogValues.OriginalFormat)
                    {
                        json.WriteString(key, LogValues.Render(value, null));
                    }
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length) + "\n";
    }

    private static string OneLine(string text) => text.Contains('\n', StringComparison.Ordinal) ? text.ReplaceLineEndings(" ") : text;

    /// <summary>logrus's level names.</summary>
    private static string JsonLevel(LogLevel level) => level switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warning",
        LogLevel.Error => "error",
        LogLevel.Critical => "fatal",
        _ => "none",
    };

    private static string ShortName(LogLevel level) => level switch
    {
        LogLevel.Trace => "trce",
        LogLevel.Debug => "dbug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "fail",
        LogLevel.Critical => "crit",
        _ => "none",
    };

    private sealed class Logger(StandardErrorLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            ArgumentNullException.ThrowIfNull(formatter);
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var values = state as IReadOnlyList<KeyValuePair<string, object?>>;
            var message = LogValues.FormatMessage(values) ?? formatter(state, exception);
            provider.Write(category, logLevel, eventId, message, exception, values);
        }
    }
}
