using Tomlyn;
using Tomlyn.Model;

namespace MiniSpire.Config;

/// <summary>Typed reads from an untyped TOML table that collect an error (naming the key) instead of throwing.</summary>
internal static class TomlValues
{
    /// <summary>The text of a config file, or a <see cref="ConfigException"/> naming it.</summary>
    public static string ReadFile(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException([$"cannot read config file \"{path}\": {e.Message}"]);
        }
    }

    /// <summary>
    /// The one top-level table a MiniSpire config holds (<c>[server]</c> or <c>[agent]</c>) with its keys
    /// checked against <paramref name="knownKeys"/>; problems go to <paramref name="errors"/>. Throws only
    /// when there is nothing to read: not TOML, or no such table.
    /// </summary>
    public static TomlTable ReadSection(string toml, string section, IReadOnlyCollection<string> knownKeys, List<string> errors, IReadOnlyDictionary<string, object>? overrides = null)
    {
        TomlTable root;
        try
        {
            root = TomlSerializer.Deserialize<TomlTable>(toml) ?? new TomlTable();
        }
        catch (TomlException e)
        {
            throw new ConfigException([$"the config is not valid TOML: {e.Message}"]);
        }

        var article = section[0] is 'a' or 'e' or 'i' or 'o' or 'u' ? "an" : "a";
        foreach (var key in root.Keys.Where(k => k != section))
        {
            errors.Add($"unknown key \"{key}\" (expected {article} [{section}] table)");
        }

        if (!root.TryGetValue(section, out var value) || value is not TomlTable table)
        {
            errors.Add($"missing [{section}] table");
            throw new ConfigException(errors);
        }

        foreach (var key in table.Keys.Where(k => !knownKeys.Contains(k)))
        {
            errors.Add($"unknown key \"{section}.{key}\"");
        }

        // Command-line flags (`run -logLevel DEBUG`) win over the file, as SPIRE's; they are checked as the keys are.
        foreach (var (key, overridden) in overrides ?? new Dictionary<string, object>())
        {
            table[key] = overridden;
        }

        return table;
    }

    public static string? GetString(TomlTable table, string prefix, string key, List<string> errors)
    {
        if (!table.TryGetValue(key, out var value))
        {
            return null;
        }

        if (value is string s)
        {
            return s;
        }

        errors.Add($"{prefix}{key}: must be a string, got {Describe(value)}");
        return null;
    }

    public static bool GetBool(TomlTable table, string prefix, string key, bool defaultValue, List<string> errors)
    {
        if (!table.TryGetValue(key, out var value))
        {
            return defaultValue;
        }

        if (value is bool b)
        {
            return b;
        }

        errors.Add($"{prefix}{key}: must be true or false, got {Describe(value)}");
        return defaultValue;
    }

    public static int GetPort(TomlTable table, string prefix, string key, int defaultValue, List<string> errors)
    {
        if (!table.TryGetValue(key, out var value))
        {
            return defaultValue;
        }

        if (value is long port and >= 1 and <= 65535)
        {
            return (int)port;
        }

        errors.Add($"{prefix}{key}: must be an integer from 1 to 65535, got {Describe(value)}");
        return defaultValue;
    }

    public static TimeSpan GetDuration(TomlTable table, string prefix, string key, TimeSpan defaultValue, List<string> errors)
    {
        if (!table.TryGetValue(key, out var value))
        {
            return defaultValue;
        }

        if (value is not string text)
        {
            errors.Add($"{prefix}{key}: must be a duration string such as \"1h\", got {Describe(value)}");
            return defaultValue;
        }

        if (!Durations.TryParse(text, out var duration, out var error))
        {
            errors.Add($"{prefix}{key}: {error}");
            return defaultValue;
        }

        if (duration <= TimeSpan.Zero)
        {
            errors.Add($"{prefix}{key}: must be positive, got \"{text}\"");
            return defaultValue;
        }

        return duration;
    }

    public static Microsoft.Extensions.Logging.LogLevel GetLogLevel(TomlTable table, string prefix, List<string> errors)
    {
        var text = GetString(table, prefix, "log_level", errors);
        switch (text?.ToUpperInvariant())
        {
            case null: return Microsoft.Extensions.Logging.LogLevel.Information;
            case "DEBUG": return Microsoft.Extensions.Logging.LogLevel.Debug;
            case "INFO": return Microsoft.Extensions.Logging.LogLevel.Information;
            case "WARN": return Microsoft.Extensions.Logging.LogLevel.Warning;
            case "ERROR": return Microsoft.Extensions.Logging.LogLevel.Error;
            default:
                errors.Add($"{prefix}log_level: \"{text}\" is not one of DEBUG, INFO, WARN, ERROR");
                return Microsoft.Extensions.Logging.LogLevel.Information;
        }
    }

    /// <summary><c>log_format</c>: "text" (the default) or "json", as SPIRE's.</summary>
    public static bool GetJsonLogFormat(TomlTable table, string prefix, List<string> errors)
    {
        var text = GetString(table, prefix, "log_format", errors);
        switch (text?.ToLowerInvariant())
        {
            case null or "text": return false;
            case "json": return true;
            default:
                errors.Add($"{prefix}log_format: \"{text}\" is not one of text, json");
                return false;
        }
    }

    public static string Describe(object? value) => value switch
    {
        null => "nothing",
        string s => $"the string \"{s}\"",
        long l => $"the integer {l}",
        bool b => b ? "true" : "false",
        TomlTable => "a table",
        TomlArray => "an array",
        _ => value.ToString() ?? value.GetType().Name,
    };
}
