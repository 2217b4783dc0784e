using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace SpiffeHelper.Config;

/// <summary>Parsers for the values a config key holds; each returns what is wrong and what would be valid.</summary>
internal static class ConfigValues
{
    /// <summary>Every signal name the Go tool accepts on Linux, with its number.</summary>
    private static IReadOnlyList<(string Name, int Number)> Signals => Reload.LinuxSignals.All;

    /// <summary>Null for null or empty: an empty string in the config means the key is off.</summary>
    public static string? NullIfEmpty(this string? text) => string.IsNullOrEmpty(text) ? null : text;

    public static string ValidSignalNames => string.Join(", ", Signals.Select(s => s.Name));

    public static bool TryParseSignal(string text, [NotNullWhen(true)] out RenewSignal? signal)
    {
        foreach (var (name, number) in Signals)
        {
            if (string.Equals(name, text, StringComparison.Ordinal))
            {
                signal = new RenewSignal(name, number);
                return true;
            }
        }

        signal = null;
        return false;
    }

    /// <summary>Octal digits such as <c>644</c> or <c>0644</c>; permission bits only (at most 0777).</summary>
    public static bool TryParseFileMode(string octal, out UnixFileMode mode)
    {
        mode = default;
        var digits = octal.StartsWith("0o", StringComparison.Ordinal) ? octal[2..] : octal;
        if (digits.Length is 0 or > 4 || digits.Any(c => c is < '0' or > '7'))
        {
            return false;
        }

        var value = Convert.ToInt32(digits, 8);
        if (value > 0x1FF)
        {
            return false;
        }

        mode = (UnixFileMode)value;
        return true;
    }

    public static string FormatMode(UnixFileMode mode) => "0" + Convert.ToString((int)mode, 8).PadLeft(3, '0');

    /// <summary>A Go-style duration: <c>90s</c>, <c>5m</c>, <c>1h30m</c>, <c>500ms</c>.</summary>
    public static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var i = 0;
        var total = 0.0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }

            if (start == i || !double.TryParse(text.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            var unitStart = i;
            while (i < text.Length && char.IsAsciiLetter(text[i]))
            {
                i++;
            }

            double? milliseconds = text[unitStart..i] switch
            {
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => null,
            };
            if (milliseconds is null)
            {
                return false;
            }

            total += number * milliseconds.Value;
        }

        duration = TimeSpan.FromMilliseconds(total);
        return true;
    }

    /// <summary>Splits a command line like a shell does for plain words and double-quoted strings (with backslash escapes inside quotes).</summary>
    public static bool TrySplitArguments(string text, out IReadOnlyList<string> arguments, [NotNullWhen(false)] out string? error)
    {
        var result = new List<string>();
        var current = new StringBuilder();
        var inWord = false;
        var inQuotes = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (inQuotes)
            {
                if (c == '\\' && i + 1 < text.Length && text[i + 1] is '"' or '\\')
                {
                    current.Append(text[++i]);
                }
                else if (c == '"')
                {
                    inQuotes = false;
                }
                else
                {
                    current.Append(c);
                }
            }
            else if (c == '"')
            {
                inQuotes = true;
                inWord = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (inWord)
                {
                    result.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(c);
                inWord = true;
            }
        }

        if (inQuotes)
        {
            arguments = [];
            error = "a double quote is not closed";
            return false;
        }

        if (inWord)
        {
            result.Add(current.ToString());
        }

        arguments = result;
        error = null;
        return true;
    }

    /// <summary>Replaces every <c>${NAME}</c>; <c>$$</c> stands for a literal <c>$</c>. An unset variable is an error naming it.</summary>
    public static bool TryExpandEnvironment(string text, Func<string, string?> lookup, out string expanded, [NotNullWhen(false)] out string? error)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c != '$')
            {
                builder.Append(c);
                continue;
            }

            if (i + 1 < text.Length && text[i + 1] == '$')
            {
                builder.Append('$');
                i++;
                continue;
            }

            if (i + 1 < text.Length && text[i + 1] == '{')
            {
                var end = text.IndexOf('}', i + 2);
                if (end < 0)
                {
                    expanded = text;
                    error = "\"${\" is not closed by \"}\" (write $$ for a literal $)";
                    return false;
                }

                var name = text[(i + 2)..end];
                if (name.Length == 0 || !name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_') || char.IsAsciiDigit(name[0]))
                {
                    expanded = text;
                    error = $"\"${{{name}}}\" is not a valid environment variable reference (letters, digits and _, not starting with a digit)";
                    return false;
                }

                var value = lookup(name);
                if (value is null)
                {
                    expanded = text;
                    error = $"environment variable \"{name}\" is not set";
                    return false;
                }

                builder.Append(value);
                i = end;
                continue;
            }

            builder.Append(c);
        }

        expanded = builder.ToString();
        error = null;
        return true;
    }

    /// <summary>The Levenshtein distance, for "did you mean".</summary>
    public static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
