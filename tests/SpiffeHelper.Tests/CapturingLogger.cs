using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace SpiffeHelper.Tests;

/// <summary>Records every log entry, to check what the helper says and how often.</summary>
internal sealed class CapturingLogger<T> : ILogger<T>
{
    public ConcurrentQueue<(LogLevel Level, int EventId, string Message)> Entries { get; } = new();

    public int Count(int eventId) => Entries.Count(e => e.EventId == eventId);

    public int Count(LogLevel level) => Entries.Count(e => e.Level == level);

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, eventId.Id, formatter(state, exception)));
}
