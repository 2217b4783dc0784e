namespace SpiffeHelper.Config;

/// <summary>Which syntax a config file is written in; decides the few rules that differ (see <see cref="ConfigSchema"/>).</summary>
internal enum ConfigSyntax
{
    /// <summary>TOML, this helper's own format: <c>${VAR}</c> is expanded, a quoted mode is octal digits.</summary>
    Toml,

    /// <summary>HCL v1, the Go spiffe-helper's format, read with the Go tool's meaning: nothing is expanded.</summary>
    Hcl,
}

internal enum ScalarKind
{
    String,
    Boolean,
    Integer,
    Float,
    DateTime,
}

/// <summary>A value of the syntax-neutral tree both front-ends produce, with the line it is on.</summary>
internal abstract record ConfigNode(int Line);

/// <summary>
/// A scalar. <see cref="Text"/> is the string value for strings, and the token as written for everything
/// else (<c>0644</c>, <c>0o644</c>, <c>true</c>); <see cref="Integer"/> the value of an integer (null when
/// it does not fit 64 bits).
/// </summary>
internal sealed record ConfigScalar(ScalarKind Kind, string Text, int Line, long? Integer = null) : ConfigNode(Line);

internal sealed record ConfigList(IReadOnlyList<ConfigNode> Items, int Line) : ConfigNode(Line);

/// <summary>A table (TOML) or object/block (HCL): entries in file order, a key possibly more than once (HCL allows it).</summary>
internal sealed record ConfigTable(IReadOnlyList<ConfigEntry> Entries, int Line) : ConfigNode(Line);

internal sealed record ConfigEntry(string Key, ConfigNode Value, int Line);

/// <summary>A parsed file: its syntax and root table, or its syntax errors.</summary>
internal sealed record ConfigDocument(ConfigSyntax Syntax, ConfigTable? Root, IReadOnlyList<ConfigError> Errors);
