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
    public void Json_OneObjectPerLineWithTimeLevelMsgAsLogrusAndFieldsAndError()
    {
        using var output = new StringWriter();
        using (var factory = new LoggerFactory([new StandardErrorLoggerProvider(output, LogFormat.Json, Time)], new LoggerFilterOptions { MinLevel = LogLevel.Debug }))
        {
            var logger = factory.CreateLogger("SpiffeHelper.Test");
            Written(logger, "spiffe://example.org/web", "/certs \"quoted\"");
            Hidden(logger);
            Failed(logger, new InvalidOperationException("boom"));
            Warned(logger);
            Fatal(logger);
        }

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(5, lines.Length);
        using var first = JsonDocument.Parse(lines[0]);
        Assert.Equal(["time", "level", "msg", "logger", "event_id", "fields"], first.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal("2026-11-28T17:00:00.123Z", first.RootElement.GetProperty("time").GetString());
        Assert.Equal("info", first.RootElement.GetProperty("level").GetString());
        Assert.Equal("Wrote spiffe://example.org/web to /certs \"quoted\"", first.RootElement.GetProperty("msg").GetString());
        Assert.Equal("SpiffeHelper.Test", first.RootElement.GetProperty("logger").GetString());
        Assert.Equal(201, first.RootElement.GetProperty("event_id").GetInt32());
        Assert.Equal("spiffe://example.org/web", first.RootElement.GetProperty("fields").GetProperty("SpiffeId").GetString());
        Assert.False(first.RootElement.GetProperty("fields").TryGetProperty("{OriginalFormat}", out _));
        Assert.False(first.RootElement.TryGetProperty("error", out _));
        using var debug = JsonDocument.Parse(lines[1]);
        Assert.Equal("debug", debug.RootElement.GetProperty("level").GetString());
        Assert.False(debug.RootElement.TryGetProperty("fields", out _));
        using var failed = JsonDocument.Parse(lines[2]);
        Assert.Equal("error", failed.RootElement.GetProperty("level").GetString());
        Assert.Contains("InvalidOperationException: boom", failed.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        using var warned = JsonDocument.Parse(lines[3]);
        Assert.Equal("warning", warned.RootElement.GetProperty("level").GetString());
        using var fatal = JsonDocument.Parse(lines[4]);
        Assert.Equal("fatal", fatal.RootElement.GetProperty("level").GetString());
    }

    [Fact]
    public void Messages_TimesInRfc3339AndConfigChoicesAsTheConfigSpellsThem()
    {
        using var output = new StringWriter();
        using (var factory = new LoggerFactory([new StandardErrorLoggerProvider(output, LogFormat.Text, Time), new StandardErrorLoggerProvider(output, LogFormat.Json, Time)], new LoggerFilterOptions { MinLevel = LogLevel.Information }))
        {
            var logger = factory.CreateLogger("SpiffeHelper.Test");
            Expires(logger, new DateTimeOffset(2026, 12, 2, 19, 33, 52, 999, TimeSpan.FromHours(1)), WriteStrategy.AtomicDir, RestartPolicy.OnFailure, Grpc.Core.StatusCode.PermissionDenied, 1.26);
        }

        var lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        const string Expected = "Expires 2026-12-02T18:33:52Z, strategy atomic_dir, policy on_failure, code PermissionDenied, in 1.3 s {literal}";
        Assert.Equal("2026-11-28T17:00:00.123Z info: SpiffeHelper.Test[204] " + Expected, lines[0]);
        using var json = JsonDocument.Parse(lines[1]);
        Assert.Equal(Expected, json.RootElement.GetProperty("msg").GetString());
        Assert.Equal("2026-12-02T18:33:52Z", json.RootElement.GetProperty("fields").GetProperty("NotAfter").GetString());
        Assert.Equal("atomic_dir", json.RootElement.GetProperty("fields").GetProperty("Strategy").GetString());
    }

    [Theory]
    [InlineData("AtomicDir", "atomic_dir")]
    [InlineData("Rename", "rename")]
    [InlineData("OnRenewal", "on_renewal")]
    [InlineData("Jwks", "jwks")]
    public void SnakeCase_IsTheConfigSpelling(string name, string expected) => Assert.Equal(expected, LogValues.SnakeCase(name));

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
            Assert.Equal(201, document.RootElement.GetProperty("event_id").GetInt32());
        }
    }

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "Wrote {SpiffeId} to {Directory}")]
    private static partial void Written(ILogger logger, string spiffeId, string directory);

    [LoggerMessage(EventId = 203, Level = LogLevel.Debug, Message = "Details")]
    private static partial void Hidden(ILogger logger);

    [LoggerMessage(EventId = 204, Level = LogLevel.Information, Message = "Expires {NotAfter}, strategy {Strategy}, policy {Policy}, code {Code}, in {Seconds:0.#} s {{literal}}")]
    private static partial void Expires(ILogger logger, DateTimeOffset notAfter, WriteStrategy strategy, RestartPolicy policy, Grpc.Core.StatusCode code, double seconds);

    [LoggerMessage(EventId = 205, Level = LogLevel.Warning, Message = "Careful")]
    private static partial void Warned(ILogger logger);

    [LoggerMessage(EventId = 206, Level = LogLevel.Critical, Message = "Giving up")]
    private static partial void Fatal(ILogger logger);

    [LoggerMessage(EventId = 202, Level = LogLevel.Error, Message = "It failed")]
    private static partial void Failed(ILogger logger, Exception exception);
}
