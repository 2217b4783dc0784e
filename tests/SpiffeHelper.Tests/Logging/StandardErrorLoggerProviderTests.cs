using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using SpiffeHelper.Config;
using SpiffeHelper.Logging;
using Xunit;

namespace SpiffeHelper.Tests.Logging;

public sealed partial class StandardErrorLoggerProviderTests
{
    private static readonly FakeTimeProvider Time = new(new DateTimeOffset(2026, 11, 28, 17, 0, 0, 123, TimeSpan.Zero));

    [Fact]
    public void Text_OneLineWithTimestampLevelCategoryEventIdAndMessage()
    {
        using var output = new StringWriter();
        using (var factory = new LoggerFactory([new StandardErrorLoggerProvider(output, LogFormat.Text, Time)], new LoggerFilterOptions { MinLevel = LogLevel.Information }))
        {
            var logger = factory.CreateLogger("SpiffeHelper.Test");
            Written(logger, "spiffe://example.org/web", "/certs");
            Hidden(logger);
            Failed(logger, new InvalidOperationException("first line\nsecond line"));
        }

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Equal("2026-11-28T17:00:00.123Z info: SpiffeHelper.Test[201] Wrote spiffe://example.org/web to /certs", lines[0]);
        Assert.StartsWith("2026-11-28T17:00:00.123Z fail: SpiffeHelper.Test[202] It failed System.InvalidOperationException: first line second line", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Json_OneObjectPerLineWithStateAndException()
    {
        using var output = new StringWriter();
        using (var factory = new LoggerFactory([new StandardErrorLoggerProvider(output, LogFormat.Json, Time)], new LoggerFilterOptions { MinLevel = LogLevel.Debug }))
        {
            var logger = factory.CreateLogger("SpiffeHelper.Test");
            Written(logger, "spiffe://example.org/web", "/certs \"quoted\"");
            Hidden(logger);
            Failed(logger, new InvalidOperationException("boom"));
        }

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal("2026-11-28T17:00:00.123Z", first.RootElement.GetProperty("Timestamp").GetString());
        Assert.Equal(201, first.RootElement.GetProperty("EventId").GetInt32());
        Assert.Equal("Information", first.RootElement.GetProperty("LogLevel").GetString());
        Assert.Equal("SpiffeHelper.Test", first.RootElement.GetProperty("Category").GetString());
        Assert.Equal("Wrote spiffe://example.org/web to /certs \"quoted\"", first.RootElement.GetProperty("Message").GetString());
        Assert.Equal("spiffe://example.org/web", first.RootElement.GetProperty("State").GetProperty("SpiffeId").GetString());
        Assert.False(first.RootElement.TryGetProperty("Exception", out _));
        using var debug = JsonDocument.Parse(lines[1]);
        Assert.Equal("Debug", debug.RootElement.GetProperty("LogLevel").GetString());
        using var failed = JsonDocument.Parse(lines[2]);
        Assert.Contains("InvalidOperationException: boom", failed.RootElement.GetProperty("Exception").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConcurrentEvents_NeverInterleaveWithinALine()
    {
        using var output = new StringWriter();
        using (var factory = new LoggerFactory([new StandardErrorLoggerProvider(output, LogFormat.Json, Time)], new LoggerFilterOptions { MinLevel = LogLevel.Information }))
        {
            var logger = factory.CreateLogger("SpiffeHelper.Test");
            var directory = new string('x', 300);
            await Task.WhenAll(Enumerable.Range(0, 8).Select(n => Task.Run(() =>
            {
                var id = "spiffe://example.org/" + n;
                for (var i = 0; i < 200; i++)
                {
                    Written(logger, id, directory);
                }
            })));
        }

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(1600, lines.Length);
        foreach (var line in lines)
        {
            using var document = JsonDocument.Parse(line);
            Assert.Equal(201, document.RootElement.GetProperty("EventId").GetInt32());
        }
    }

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Wrote {SpiffeId} to {Directory}")]
    private static partial void Written(ILogger logger, string spiffeId, string directory);

    [LoggerMessage(EventId = 203, Level = LogLevel.Debug, Message = "Details")]
    private static partial void Hidden(ILogger logger);

    [LoggerMessage(EventId = 202, Level = LogLevel.Error, Message = "It failed")]
    private static partial void Failed(ILogger logger, Exception exception);
}
