namespace SpiffeHelper.Config;

/// <summary>One thing wrong with the configuration (or, as a warning, worth knowing): where (file, line, key) and why.</summary>
internal sealed record ConfigError(string File, int? Line, string? Key, string Reason)
{
    public override string ToString()
    {
        var where = Line is { } line ? $"{File}:{line}" : File;
        return Key is null ? $"{where}: {Reason}" : $"{where}: key \"{Key}\": {Reason}";
    }
}

/// <summary>The outcome of loading: options, or every error found; warnings either way.</summary>
internal sealed record ConfigLoadResult(HelperOptions? Options, IReadOnlyList<ConfigError> Errors)
{
    public bool Succeeded => Options is not null && Errors.Count == 0;

    /// <summary>Settings that load but deserve a word at start-up (a readable private key, a key given twice, ...).</summary>
    public IReadOnlyList<ConfigError> Warnings { get; init; } = [];

    /// <summary>The syntax the file was read as.</summary>
    public ConfigSyntax Syntax { get; init; }
}

/// <summary>
/// Reads a helper config file, TOML or the Go tool's HCL v1 (detected from the content, see
/// <see cref="ConfigSyntaxReader"/>), in three steps: the syntax front-end yields a neutral tree with line
/// numbers; <see cref="ConfigSchema"/> checks every key and type against the one schema; the validator
/// (one part per seam: process, X.509 output, JWT output, health) checks the values and builds
/// <see cref="HelperOptions"/>. Every error of every step is collected before returning.
/// </summary>
internal static partial class ConfigLoader
{
    /// <summary>
    /// Loads <paramref name="path"/>; <paramref name="daemonModeOverride"/> comes from the command line.
    /// Unlike <see cref="Parse"/>, also checks what needs the file system: that <c>cmd</c> names an executable.
    /// </summary>
    public static ConfigLoadResult Load(string path, Func<string, string?> environment, bool? daemonModeOverride, string workingDirectory)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Fail(new ConfigError(path, null, null, $"cannot read the config file: {e.Message}"));
        }

        return Parse(text, path, environment, daemonModeOverride, workingDirectory, checkCommand: true);
    }

    /// <summary>Parses config text named <paramref name="file"/> in messages.</summary>
    public static ConfigLoadResult Parse(string text, string file, Func<string, string?> environment, bool? daemonModeOverride, string workingDirectory, bool checkCommand = false)
    {
        var document = ConfigSyntaxReader.Read(text, file);
        if (document.Errors.Count > 0)
        {
            return new ConfigLoadResult(null, document.Errors) { Syntax = document.Syntax };
        }

        var errors = new List<ConfigError>();
        var warnings = new List<ConfigError>();
        var lines = new Dictionary<string, int>(StringComparer.Ordinal);
        var model = ConfigSchema.Read(document, file, errors, warnings, lines);
        var validator = new Validator(file, document.Syntax, lines, environment, errors, warnings, checkCommand);
        var options = validator.Build(model, daemonModeOverride, workingDirectory);
        var ordered = warnings.OrderBy(w => w.Line ?? int.MaxValue).ToList();
        return errors.Count > 0
            ? new ConfigLoadResult(null, [.. errors.OrderBy(e => e.Line ?? int.MaxValue)]) { Warnings = ordered, Syntax = document.Syntax }
            : new ConfigLoadResult(options, errors) { Warnings = ordered, Syntax = document.Syntax };
    }

    private static ConfigLoadResult Fail(ConfigError error) => new(null, [error]);
}
