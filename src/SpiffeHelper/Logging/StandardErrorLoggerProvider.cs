using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using SpiffeHelper.Config;

namespace SpiffeHelper.Logging;

/// <summary>
/// One log line per event on standard error, as text (<c>2026-11-28T17:00:00.000Z info: Category[101] message</c>)
/// or as one JSON object (<c>Timestamp</c>, <c>EventId</c>, <c>LogLevel</c>, <c>Category</c>, <c>Message</c>,
/// <c>Exception</c>, <c>State</c>), the shapes Microsoft.Extensions.Logging.Console's single-line and JSON
/// formatters write.
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
        var timestamp = time.GetUtcNow().ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
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
            json.WriteString("Timestamp", timestamp);
            json.WriteNumber("EventId", eventId.Id);
            json.WriteString("LogLevel", level.ToString());
            json.WriteString("Category", category);
            json.WriteString("Message", message);
            if (exception is not null)
            {
                json.WriteString("Exception", exception.ToString());
            }

            if (state is { Count: > 0 })
            {
                json.WriteStartObject("State");
                foreach (var (key, value) in state)
                {
                    json.WriteString(key, Convert.ToString(value, CultureInfo.InvariantCulture));
                }

                json.WriteEndObject();
            }

            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length) + "\n";
    }

    private static string OneLine(string text) => text.Contains('\n', StringComparison.Ordinal) ? text.ReplaceLineEndings(" ") : text;

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

            var message = formatter(state, exception);
            provider.Write(category, logLevel, eventId, message, exception, state as IReadOnlyList<KeyValuePair<string, object?>>);
        }
    }
}
