namespace SpiffeHelper.Config.Hcl;

/// <summary>A place in the source: 1-based line and column (column counted in characters).</summary>
internal readonly record struct HclPosition(int Line, int Column)
{
    public override string ToString() => $"{Line}:{Column}";
}

/// <summary>The kinds of literal HCL v1 has.</summary>
internal enum HclLiteralKind
{
    /// <summary>A double-quoted string; <see cref="HclLiteral.Value"/> holds it with the escapes applied.</summary>
    String,

    /// <summary>A heredoc (<c>&lt;&lt;EOF</c> or <c>&lt;&lt;-EOF</c>); <see cref="HclLiteral.Value"/> holds its text.</summary>
    Heredoc,

    /// <summary>An integer as written (<c>420</c>, <c>0644</c> octal, <c>0x1A4</c>, <c>-1</c>).</summary>
    Number,

    /// <summary>A floating-point number as written.</summary>
    Float,

    /// <summary><c>true</c> or <c>false</c>.</summary>
    Bool,
}

/// <summary>A value: a literal, a list or an object.</summary>
internal abstract record HclNode(HclPosition Position);

/// <summary>A literal: <see cref="Text"/> is the token as written; <see cref="Value"/> the string value of strings and heredocs.</summary>
internal sealed record HclLiteral(HclLiteralKind Kind, string Text, string Value, HclPosition Position) : HclNode(Position)
{
    public bool BoolValue => Kind == HclLiteralKind.Bool && Text == "true";
}

/// <summary><c>[a, b, ...]</c>.</summary>
internal sealed record HclList(IReadOnlyList<HclNode> Items, HclPosition Position) : HclNode(Position);

/// <summary>A body: the file itself, a block <c>name { ... }</c> or an object value <c>{ ... }</c>.</summary>
internal sealed record HclObject(IReadOnlyList<HclItem> Items, HclPosition Position) : HclNode(Position);

/// <summary>
/// One item of a body: <c>key = value</c> (<see cref="IsAssignment"/>) or a block <c>key { ... }</c>;
/// a block may have labels (<c>key "label" { ... }</c>), which are further <see cref="Keys"/>.
/// </summary>
internal sealed record HclItem(IReadOnlyList<HclKey> Keys, HclNode Value, bool IsAssignment)
{
    public HclPosition Position => Keys[0].Position;
}

/// <summary>A key: an identifier or a quoted string.</summary>
internal sealed record HclKey(string Name, bool Quoted, HclPosition Position);

/// <summary>A syntax error: where and what.</summary>
internal sealed record HclError(HclPosition Position, string Message)
{
    public override string ToString() => $"{Position}: {Message}";
}

/// <summary>The outcome of parsing: the file's body, or the first syntax error (as the Go parser, it stops there).</summary>
internal sealed record HclParseResult(HclObject? Root, HclError? Error);

/// <summary>Go's <c>strconv.ParseInt(s, 0, 64)</c>, which HCL v1 decoding uses for integers (and for strings decoded into integers).</summary>
internal static class HclIntegers
{
    public static bool TryParse(string text, out long value)
    {
        value = 0;
        var s = text.AsSpan();
        var negative = false;
        if (s.Length > 0 && s[0] is '+' or '-')
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        var radix = 10;
        if (s.Length >= 2 && s[0] == '0' && s[1] is 'x' or 'X')
        {
            radix = 16;
            s = s[2..];
        }
        else if (s.Length >= 2 && s[0] == '0' && s[1] is 'o' or 'O')
        {
            radix = 8;
            s = s[2..];
        }
        else if (s.Length >= 2 && s[0] == '0' && s[1] is 'b' or 'B')
        {
            radix = 2;
            s = s[2..];
        }
        else if (s.Length >= 2 && s[0] == '0')
        {
            radix = 8;
            s = s[1..];
        }

        if (s.IsEmpty)
        {
            return false;
        }

        ulong magnitude = 0;
        foreach (var c in s)
        {
            var digit = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'f' => c - 'a' + 10,
                >= 'A' and <= 'F' => c - 'A' + 10,
                _ => 99,
            };
            if (digit >= radix)
            {
                return false;
            }

            if (magnitude > (ulong.MaxValue - (ulong)digit) / (ulong)radix)
            {
                return false;
            }

            magnitude = (magnitude * (ulong)radix) + (ulong)digit;
        }

        if (negative ? magnitude > 1UL + long.MaxValue : magnitude > long.MaxValue)
        {
            return false;
        }

        value = negative ? unchecked((long)(0 - magnitude)) : (long)magnitude;
        return true;
    }
}
