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

    /// <summary>
    /// A Go-style duration: <c>90s</c>, <c>5m</c>, <c>1h30m</c>, <c>500ms</c>. <paramref name="tooLong"/> is true
    /// (and the result false-free) when the value is well-formed but larger than any timeout could be.
    /// </summary>
    public static bool TryParseDuration(string text, out TimeSpan duration, out bool tooLong)
    {
        duration = TimeSpan.Zero;
        tooLong = false;
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

        // TimeSpan.FromMilliseconds throws past about 29,000 years; every timeout is capped far below.
        if (!double.IsFinite(total) || total > TimeSpan.FromDays(365).TotalMilliseconds)
        {
            tooLong = true;
            return true;
        }

        duration = TimeSpan.FromMilliseconds(total);
        return true;
    }

    /// <summary>
    /// Splits <c>cmd_args</c> exactly as the Go spiffe-helper does (<c>getCmdArgs</c>: Go's <c>encoding/csv</c>
    /// reader with a space as the separator, reading one record): fields are separated by single spaces
    /// (two spaces make an empty argument); a field that starts with <c>"</c> is quoted, may hold spaces and
    /// newlines, and <c>""</c> inside it is one literal quote; a <c>"</c> inside an unquoted field, or a quoted
    /// field not followed by a space or the end, is an error (LazyQuotes off); blank leading lines are
    /// skipped and only the first line (record) is used; <c>\r\n</c> counts as <c>\n</c>.
    /// </summary>
    public static bool TrySplitArguments(string text, out IReadOnlyList<string> arguments, [NotNullWhen(false)] out string? error)
    {
        arguments = [];
        error = null;
        if (text.Length == 0)
        {
            return true;
        }

        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        var lineIndex = 0;
        while (lineIndex < lines.Length && lines[lineIndex].Length == 0 && lineIndex < lines.Length - 1)
        {
            lineIndex++;
        }

        if (lineIndex == lines.Length - 1 && lines[lineIndex].Length == 0)
        {
            // Go's reader returns io.EOF here, which getCmdArgs passes on as the error "EOF".
            error = "holds no argument, only line breaks (the Go tool fails with \"EOF\" too); remove it or write the arguments";
            return false;
        }

        var line = lines[lineIndex].TrimEnd('\r');
        var result = new List<string>();
        var field = new StringBuilder();
        var i = 0;
        while (true)
        {
            field.Clear();
            if (i >= line.Length || line[i] != '"')
            {
                var end = line.IndexOf(' ', i);
                var value = end < 0 ? line[i..] : line[i..end];
                var quote = value.IndexOf('"', StringComparison.Ordinal);
                if (quote >= 0)
                {
                    error = $"column {i + quote + 1}: a double quote inside an argument that does not start with one (split as the Go tool splits it, CSV with spaces: quote the whole argument, as in \"a b\", and write \"\" for a literal quote inside it)";
                    return false;
                }

                result.Add(value);
                if (end < 0)
                {
                    break;
                }

                i = end + 1;
                continue;
            }

            // A quoted field, which may continue on the next lines.
            var column = i + 1;
            i++;
            while (true)
            {
                var close = line.IndexOf('"', i);
                if (close < 0)
                {
                    field.Append(line, i, line.Length - i);
                    if (++lineIndex >= lines.Length)
                    {
                        error = $"column {column}: the double quote that opens an argument is not closed";
                        return false;
                    }

                    field.Append('\n');
                    line = lines[lineIndex].TrimEnd('\r');
                    i = 0;
                    continue;
                }

                field.Append(line, i, close - i);
                i = close + 1;
                if (i < line.Length && line[i] == '"')
                {
                    field.Append('"');
                    i++;
                    continue;
                }

                if (i < line.Length && line[i] == ' ')
                {
                    i++;
                    result.Add(field.ToString());
                    break;
                }

                if (i >= line.Length)
                {
                    result.Add(field.ToString());
                    arguments = result;
                    return true;
                }

                error = $"column {i}: a quoted argument must end with a double quote followed by a space or the end (split as the Go tool splits it: write \"\" for a literal quote inside a quoted argument)";
                return false;
            }
        }

        arguments = result;
        return true;
    }

    /// <summary>
    /// TOML files only: replaces every <c>${NAME}</c> (letters, digits and <c>_</c>) with the environment
    /// variable; <c>$${</c> stands for a literal <c>${</c>; every other <c>$</c> stays as written, so
    /// <c>$$</c>, <c>$1</c> and <c>$HOME</c> reach the program unchanged. An unset variable is an error naming it.
    /// </summary>
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

            if (i + 2 < text.Length && text[i + 1] == '$' && text[i + 2] == '{')
            {
                builder.Append("${");
                i += 2;
                continue;
            }

            if (i + 1 < text.Length && text[i + 1] == '{')
            {
                var end = text.IndexOf('}', i + 2);
                if (end < 0)
                {
                    expanded = text;
                    error = "\"${\" is not closed by \"}\" (write $${ for a literal ${)";
                    return false;
                }

                var name = text[(i + 2)..end];
                if (name.Length == 0 || !name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_') || char.IsAsciiDigit(name[0]))
                {
                    expanded = text;
                    error = $"\"${{{name}}}\" is not a valid environment variable reference (letters, digits and _, not starting with a digit; write $${{ for a literal ${{)";
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

    /// <summary><c>rw-r--r--</c> for 0644.</summary>
    public static string Symbolic(UnixFileMode mode)
    {
        var bits = (int)mode;
        var text = new char[9];
        for (var i = 0; i < 9; i++)
        {
            text[i] = (bits & (1 << (8 - i))) != 0 ? "rwx"[i % 3] : '-';
        }

        return new string(text);
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
