using System.Globalization;
using System.Text;

namespace SpiffeHelper.Logging;

/// <summary>
/// Renders a log message from its template (<c>{OriginalFormat}</c> of a <c>[LoggerMessage]</c> state) so that
/// values read as a user writes them, whichever component logs them: times in RFC 3339 UTC
/// (<c>2026-12-02T18:33:52Z</c>, not the culture's <c>12/02/2026 18:33:52 +00:00</c>) and the config's
/// enumerations (<c>SpiffeHelper.Config</c>: write strategy, restart policy, formats) as the config spells them
/// (<c>atomic_dir</c>, not <c>AtomicDir</c>). Other values keep their own rendering (gRPC status codes stay
/// <c>PermissionDenied</c>), with a placeholder's format (<c>{Seconds:0.#}</c>) applied invariantly.
/// </summary>
internal static class LogValues
{
    public const string OriginalFormat = "{OriginalFormat}";

    private const string ConfigNamespace = "SpiffeHelper.Config";

    /// <summary>The message from the template and values; null when there is no template (the caller's formatter is used).</summary>
    public static string? FormatMessage(IReadOnlyList<KeyValuePair<string, object?>>? values)
    {
        if (values is null || values.Count == 0 || values[^1] is not { Key: OriginalFormat, Value: string template })
        {
            return null;
        }

        var message = new StringBuilder(template.Length + 64);
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c == '{' && i + 1 < template.Length && template[i + 1] == '{')
            {
                message.Append('{');
                i++;
            }
            else if (c == '}' && i + 1 < template.Length && template[i + 1] == '}')
            {
                message.Append('}');
                i++;
            }
            else if (c == '{')
            {
                var end = template.IndexOf('}', i + 1);
                if (end < 0)
                {
                    return null;
                }

                var hole = template.AsSpan(i + 1, end - i - 1);
                var colon = hole.IndexOf(':');
                var name = (colon < 0 ? hole : hole[..colon]).ToString();
                var format = colon < 0 ? null : hole[(colon + 1)..].ToString();
                var comma = name.IndexOf(',', StringComparison.Ordinal);
                if (comma >= 0)
                {
                    name = name[..comma];
                }

                if (!TryFind(values, name, out var value))
                {
                    return null;
                }

                message.Append(Render(value, format));
                i = end;
            }
            else
            {
                message.Append(c);
            }
        }

        return message.ToString();
    }

    /// <summary>One value as it appears in a message and in a JSON log's fields.</summary>
    public static string Render(object? value, string? format) => value switch
    {
        null => "(null)",
        DateTimeOffset time => Rfc3339.Format(time),
        DateTime time => Rfc3339.Format(new DateTimeOffset(time.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(time, DateTimeKind.Utc) : time)),
        Enum choice when choice.GetType().Namespace == ConfigNamespace => SnakeCase(choice.ToString()),
        IFormattable formattable => formattable.ToString(format, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? string.Empty,
    };

    /// <summary><c>AtomicDir</c> to <c>atomic_dir</c>, <c>OnRenewal</c> to <c>on_renewal</c>: the config's spelling of the choices.</summary>
    public static string SnakeCase(string name)
    {
        var result = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]))
            {
                if (i > 0)
                {
                    result.Append('_');
                }

                result.Append(char.ToLowerInvariant(name[i]));
            }
            else
            {
                result.Append(name[i]);
            }
        }

        return result.ToString();
    }

    private static bool TryFind(IReadOnlyList<KeyValuePair<string, object?>> values, string name, out object? value)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (string.Equals(values[i].Key, name, StringComparison.Ordinal))
            {
                value = values[i].Value;
                return true;
            }
        }

        value = null;
        return false;
    }
}
