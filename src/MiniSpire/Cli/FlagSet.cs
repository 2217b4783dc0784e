namespace MiniSpire.Cli;

/// <summary>
/// Flags the way SPIRE's CLI (Go's flag package) reads them: <c>-name value</c>, <c>-name=value</c>, a leading
/// <c>--</c> also accepted, boolean flags alone (<c>-admin</c>) or <c>-admin=true</c>, repeatable list flags.
/// </summary>
internal sealed class FlagSet
{
    private readonly Dictionary<string, FlagKind> _kinds = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _help = new(StringComparer.Ordinal);

    public FlagSet(string command) => Command = command;

    private enum FlagKind
    {
        String,
        List,
        Bool,
    }

    public string Command { get; }

    public FlagSet String(string name, string help) => Define(name, FlagKind.String, help);

    public FlagSet List(string name, string help) => Define(name, FlagKind.List, help);

    public FlagSet Bool(string name, string help) => Define(name, FlagKind.Bool, help);

    /// <summary>Parses; returns the errors (unknown flag, missing value, positional argument), empty when fine.</summary>
    public IReadOnlyList<string> Parse(IReadOnlyList<string> args)
    {
        var errors = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith('-') || arg == "-" || arg == "--")
            {
                errors.Add($"unexpected argument \"{arg}\"");
                continue;
            }

            var text = arg.StartsWith("--", StringComparison.Ordinal) ? arg[2..] : arg[1..];
            string? inline = null;
            var eq = text.IndexOf('=', StringComparison.Ordinal);
            if (eq >= 0)
            {
                inline = text[(eq + 1)..];
                text = text[..eq];
            }

            if (!_kinds.TryGetValue(text, out var kind))
            {
                errors.Add($"flag provided but not defined: -{text}");
                continue;
            }

            string value;
            if (kind == FlagKind.Bool)
            {
                value = inline ?? "true";
                if (value is not ("true" or "false"))
                {
                    errors.Add($"-{text}: invalid boolean value \"{value}\"");
                    continue;
                }
            }
            else if (inline is not null)
            {
                value = inline;
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }
            else
            {
                errors.Add($"flag needs an argument: -{text}");
                continue;
            }

            var values = _values.TryGetValue(text, out var list) ? list : _values[text] = [];
            if (kind != FlagKind.List)
            {
                values.Clear();
            }

            values.Add(value);
        }

        return errors;
    }

    public bool IsSet(string name) => _values.ContainsKey(name);

    public string? GetString(string name) => _values.TryGetValue(name, out var v) ? v[^1] : null;

    public IReadOnlyList<string> GetList(string name) => _values.TryGetValue(name, out var v) ? v : [];

    public bool GetBool(string name) => _values.TryGetValue(name, out var v) && v[^1] == "true";

    public string Usage() =>
        $"Usage of {Command}:" + string.Concat(_help.Select(h => $"{Environment.NewLine}  -{h.Key}{Environment.NewLine}        {h.Value}"));

    private FlagSet Define(string name, FlagKind kind, string help)
    {
        _kinds[name] = kind;
        _help[name] = help;
        return this;
    }
}
