using SpiffeHelper.Config.Hcl;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace SpiffeHelper.Config;

/// <summary>
/// The syntax front-ends: TOML (through Tomlyn's syntax tree) and HCL v1 (through <see cref="HclParser"/>),
/// each turning a file into the same <see cref="ConfigTable"/> tree with line numbers. The format is
/// detected from the content: a file TOML reads is TOML (a flat <c>key = "value"</c> file means the same in
/// both, apart from the rules <see cref="ConfigSchema"/> documents), a file only HCL reads is HCL; when neither
/// reads it, the errors shown are those of the format its content resembles.
/// </summary>
internal static class ConfigSyntaxReader
{
    /// <summary>The deepest nesting of arrays and tables accepted, in either syntax.</summary>
    public const int MaxDepth = HclParser.MaxDepth;

    public static ConfigDocument Read(string text, string file)
    {
        var toml = ReadToml(text, file);
        if (toml.Errors.Count == 0)
        {
            return toml;
        }

        var hcl = ReadHcl(text, file);
        if (hcl.Errors.Count == 0)
        {
            return hcl;
        }

        // Too deep for one syntax is the cause worth naming, whatever else the other syntax found.
        static bool TooDeep(ConfigDocument d) => d.Errors.Any(e => e.Reason.Contains("levels deep", StringComparison.Ordinal));
        if (TooDeep(toml) != TooDeep(hcl))
        {
            return TooDeep(toml) ? toml : hcl;
        }

        return LooksLikeToml(text) ? toml : hcl;
    }

    /// <summary>TOML-only syntax: a <c>[table]</c> header line, <c>0o</c>/<c>0x</c>-free octal aside, single-quoted strings.</summary>
    private static bool LooksLikeToml(string text)
    {
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith('[') && (line.EndsWith(']') || line.Contains("] #", StringComparison.Ordinal)) && !line.Contains('"', StringComparison.Ordinal))
            {
                return true;
            }

            if (line.Contains("= '", StringComparison.Ordinal) || line.Contains("= 0o", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    public static ConfigDocument ReadHcl(string text, string file)
    {
        var parsed = HclParser.Parse(text);
        if (parsed.Error is { } error)
        {
            return new ConfigDocument(ConfigSyntax.Hcl, null, [new ConfigError(file, error.Position.Line, null, $"not valid HCL: {error.Message} (column {error.Position.Column})")]);
        }

        return new ConfigDocument(ConfigSyntax.Hcl, Table(parsed.Root!), []);
    }

    private static ConfigTable Table(HclObject body) => new([.. body.Items.Select(Entry)], body.Position.Line);

    private static ConfigEntry Entry(HclItem item)
    {
        // key "label" { ... } is key = { label = { ... } }.
        ConfigNode value = Node(item.Value);
        for (var i = item.Keys.Count - 1; i >= 1; i--)
        {
            value = new ConfigTable([new ConfigEntry(item.Keys[i].Name, value, item.Keys[i].Position.Line)], item.Keys[i].Position.Line);
        }

        return new ConfigEntry(item.Keys[0].Name, value, item.Position.Line);
    }

    private static ConfigNode Node(HclNode node) => node switch
    {
        HclObject body => Table(body),
        HclList list => new ConfigList([.. list.Items.Select(Node)], list.Position.Line),
        HclLiteral { Kind: HclLiteralKind.String or HclLiteralKind.Heredoc } literal => new ConfigScalar(ScalarKind.String, literal.Value, literal.Position.Line),
        HclLiteral { Kind: HclLiteralKind.Bool } literal => new ConfigScalar(ScalarKind.Boolean, literal.Text, literal.Position.Line),
        HclLiteral { Kind: HclLiteralKind.Number } literal => new ConfigScalar(ScalarKind.Integer, literal.Text, literal.Position.Line, HclIntegers.TryParse(literal.Text, out var number) ? number : null),
        HclLiteral literal => new ConfigScalar(ScalarKind.Float, literal.Text, literal.Position.Line),
        _ => throw new InvalidOperationException("unknown HCL node"),
    };

    public static ConfigDocument ReadToml(string text, string file)
    {
        if (TomlDepthError(text, file) is { } depthError)
        {
            return new ConfigDocument(ConfigSyntax.Toml, null, [depthError]);
        }

        var document = SyntaxParser.Parse(text, file, validate: true);
        if (document.HasErrors)
        {
            var errors = document.Diagnostics
                .Where(d => d.Kind == DiagnosticMessageKind.Error)
                .Select(d => new ConfigError(file, d.Span.Start.Line + 1, null, $"not valid TOML: {d.Message}"))
                .ToList();
            return new ConfigDocument(ConfigSyntax.Toml, null, errors);
        }

        var root = new TomlTable(1);
        foreach (var keyValue in document.KeyValues)
        {
            AddKeyValue(root, keyValue);
        }

        foreach (var table in document.Tables)
        {
            var line = table.Span.Start.Line + 1;
            var path = table.Name is null ? [] : KeyPath(table.Name);
            var body = new TomlTable(line);
            foreach (var item in table.Items)
            {
                if (item is KeyValueSyntax keyValue)
                {
                    AddKeyValue(body, keyValue);
                }
            }

            // [a.b] is a = { b = { ... } }; [[a]] is one more item of the list a = [ ... ].
            ConfigNode value = table is TableArraySyntax ? new ConfigList([body.Build()], line) : body.Build();
            for (var i = path.Length - 1; i >= 1; i--)
            {
                value = new ConfigTable([new ConfigEntry(path[i], value, line)], line);
            }

            if (path.Length > 0)
            {
                root.Entries.Add(new ConfigEntry(path[0], value, line));
            }
        }

        return new ConfigDocument(ConfigSyntax.Toml, root.Build(), []);
    }

    private sealed class TomlTable(int line)
    {
        public List<ConfigEntry> Entries { get; } = [];

        public ConfigTable Build() => new(Entries, line);
    }

    private static void AddKeyValue(TomlTable table, KeyValueSyntax keyValue)
    {
        var line = keyValue.Span.Start.Line + 1;
        var path = keyValue.Key is null ? [] : KeyPath(keyValue.Key);
        if (path.Length == 0)
        {
            return;
        }

        var value = Node(keyValue.Value, line);
        for (var i = path.Length - 1; i >= 1; i--)
        {
            value = new ConfigTable([new ConfigEntry(path[i], value, line)], line);
        }

        table.Entries.Add(new ConfigEntry(path[0], value, line));
    }

    private static ConfigNode Node(ValueSyntax? value, int line)
    {
        var at = value is null ? line : value.Span.Start.Line + 1;
        switch (value)
        {
            case StringValueSyntax s:
                return new ConfigScalar(ScalarKind.String, s.Value ?? string.Empty, at);
            case BooleanValueSyntax b:
                return new ConfigScalar(ScalarKind.Boolean, b.Value ? "true" : "false", at);
            case IntegerValueSyntax i:
                return new ConfigScalar(ScalarKind.Integer, i.Token?.Text ?? i.Value.ToString(System.Globalization.CultureInfo.InvariantCulture), at, i.Value);
            case FloatValueSyntax f:
                return new ConfigScalar(ScalarKind.Float, f.Token?.Text ?? string.Empty, at);
            case DateTimeValueSyntax d:
                return new ConfigScalar(ScalarKind.DateTime, d.Token?.Text ?? string.Empty, at);
            case ArraySyntax array:
                return new ConfigList([.. array.Items.Select(item => Node(item.Value, item.Span.Start.Line + 1))], at);
            case InlineTableSyntax inline:
                var table = new TomlTable(at);
                foreach (var item in inline.Items)
                {
                    if (item.KeyValue is { } keyValue)
                    {
                        AddKeyValue(table, keyValue);
                    }
                }

                return table.Build();
            default:
                return new ConfigScalar(ScalarKind.String, string.Empty, at);
        }
    }

    private static string[] KeyPath(KeySyntax key)
    {
        var parts = new List<string> { KeyPart(key.Key) };
        foreach (var dotted in key.DotKeys)
        {
            parts.Add(KeyPart(dotted.Key));
        }

        return [.. parts];
    }

    private static string KeyPart(BareKeyOrStringValueSyntax? part) => part switch
    {
        BareKeySyntax bare => bare.Key?.Text ?? string.Empty,
        StringValueSyntax quoted => quoted.Value ?? string.Empty,
        _ => string.Empty,
    };

    /// <summary>
    /// Tomlyn's parser recurses once per nesting level: refuse more than <see cref="MaxDepth"/> levels of
    /// <c>[</c>/<c>{</c> (outside strings and comments) before it runs, so no file can exhaust the stack.
    /// </summary>
    private static ConfigError? TomlDepthError(string text, string file)
    {
        var depth = 0;
        var line = 1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            switch (c)
            {
                case '\n':
                    line++;
                    break;
                case '#':
                    while (i + 1 < text.Length && text[i + 1] != '\n')
                    {
                        i++;
                    }

                    break;
                case '"' or '\'':
                    var triple = i + 2 < text.Length && text[i + 1] == c && text[i + 2] == c;
                    i += triple ? 3 : 1;
                    while (i < text.Length)
                    {
                        if (text[i] == '\n')
                        {
                            line++;
                            if (!triple)
                            {
                                break;
                            }
                        }

                        if (c == '"' && text[i] == '\\')
                        {
                            i += 2;
                            continue;
                        }

                        if (text[i] == c && (!triple || (i + 2 < text.Length && text[i + 1] == c && text[i + 2] == c)))
                        {
                            i += triple ? 2 : 0;
                            break;
                        }

                        i++;
                    }

                    break;
                case '[' or '{':
                    if (++depth > MaxDepth)
                    {
                        return new ConfigError(file, line, null, $"arrays and tables are nested more than {MaxDepth} levels deep");
                    }

                    break;
                case ']' or '}':
                    depth = Math.Max(0, depth - 1);
                    break;
            }
        }

        return null;
    }
}
