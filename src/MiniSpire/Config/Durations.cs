using System.Globalization;

namespace MiniSpire.Config;

/// <summary>Durations as SPIRE writes them (Go's time.ParseDuration): "90s", "5m", "1h", "1h30m", "500ms".</summary>
internal static class Durations
{
    public static bool TryParse(string? text, out TimeSpan value, out string error)
    {
        value = TimeSpan.Zero;
        error = string.Empty;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "is empty (expected a duration such as \"90s\", \"5m\" or \"1h\")";
            return false;
        }

        var s = text.AsSpan().Trim();
        var total = TimeSpan.Zero;
        while (!s.IsEmpty)
        {
            var digits = 0;
            while (digits < s.Length && (char.IsAsciiDigit(s[digits]) || s[digits] == '.'))
            {
                digits++;
            }

            var unitLength = 0;
            while (digits + unitLength < s.Length && char.IsAsciiLetter(s[digits + unitLength]))
            {
                unitLength++;
            }

            if (digits == 0 || unitLength == 0
                || !double.TryParse(s[..digits], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                error = $"\"{text}\" is not a duration (expected a number and a unit: \"90s\", \"5m\", \"1h\")";
                return false;
            }

            var unit = s.Slice(digits, unitLength).ToString();
            TimeSpan part;
            switch (unit)
            {
                case "ms": part = TimeSpan.FromMilliseconds(number); break;
                case "s": part = TimeSpan.FromSeconds(number); break;
                case "m": part = TimeSpan.FromMinutes(number); break;
                case "h": part = TimeSpan.FromHours(number); break;
                default:
                    error = $"\"{text}\" has unknown unit \"{unit}\" (valid units: ms, s, m, h)";
                    return false;
            }

            total += part;
            s = s[(digits + unitLength)..];
        }

        value = total;
        return true;
    }

    /// <summary>Formats like Go's Duration.String, shortest form: "1h", "5m", "1h30m", "90s" becomes "1m30s".</summary>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0s";
        }

        var parts = new List<string>();
        if ((int)value.TotalHours > 0)
        {
            parts.Add($"{(int)value.TotalHours}h");
        }

        if (value.Minutes > 0)
        {
            parts.Add($"{value.Minutes}m");
        }

        if (value.Seconds > 0 || value.Milliseconds > 0)
        {
            parts.Add(value.Milliseconds > 0 ? $"{value.Seconds}.{value.Milliseconds:000}s" : $"{value.Seconds}s");
        }

        return string.Concat(parts);
    }
}
