using Microsoft.Extensions.Logging;

namespace MiniSpire.Telemetry;

/// <summary>The server's and the agent's console log: one line an event, text or (<c>log_format = "json"</c>) JSON.</summary>
internal static class ConsoleLogs
{
    public static ILoggingBuilder AddMiniSpireConsole(this ILoggingBuilder logging, bool json)
    {
        const string Timestamp = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        if (json)
        {
            return logging.AddJsonConsole(console =>
            {
                console.TimestampFormat = Timestamp.TrimEnd();
                console.UseUtcTimestamp = true;
            });
        }

        return logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = Timestamp;
            console.UseUtcTimestamp = true;
        });
    }
}
