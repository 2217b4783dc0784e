using System.Globalization;

namespace SpiffeHelper.Logging;

/// <summary>Times as the helper writes them everywhere a person reads them: RFC 3339 in UTC, <c>2026-12-02T18:33:52Z</c>.</summary>
internal static class Rfc3339
{
    /// <summary>Whole seconds, as Go's <c>time.RFC3339</c>: for times inside messages and health bodies.</summary>
    public static string Format(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>With milliseconds (RFC 3339's time-secfrac): for the timestamp of a log line.</summary>
    public static string FormatMilliseconds(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fff'Z'", CultureInfo.InvariantCulture);
}
