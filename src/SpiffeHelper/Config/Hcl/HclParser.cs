using System.Globalization;
using System.Text;

namespace SpiffeHelper.Config.Hcl;

/// <summary>
/// A parser for HashiCorp HCL v1, the syntax hashicorp/hcl's <c>hcl.Decode</c> reads (and so the Go
/// spiffe-helper's config): <c>key = value</c> items separated by newlines or commas; <c>#</c>, <c>//</c>
/// and <c>/* */</c> comments; blocks <c>key { ... }</c> (with optional labels); objects <c>{ ... }</c>;
/// lists <c>[ ... ]</c> with an optional trailing comma; numbers in decimal, octal (<c>0644</c>) and hex;
/// floats; <c>true</c>/<c>false</c>; double-quoted strings with Go's escapes (<c>${ }</c> kept as written);
/// heredocs <c>&lt;&lt;EOF</c> and <c>&lt;&lt;-EOF</c>. Like the Go parser it stops at the first syntax
/// error; unlike it, nesting is limited to <see cref="MaxDepth"/> levels so no input can exhaust the stack.
/// Depends on nothing else in the program.
/// </summary>
internal static class HclParser
{
    /// <summary>The deepest nesting of objects and lists accepted.</summary>
    public const int MaxDepth = 64;

    public static HclParseResult Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            var parser = new Parser(new Scanner(text.Replace("\r\n", "\n", StringComparison.Ordinal)));
            return new HclParseResult(parser.File(), null);
        }
        catch (HclSyntaxException e)
        {
            return new HclParseResult(null, e.Error);
        }
    }

    private enum TokenType
    {
        Eof,
        Ident,
        Bool,
        Number,
        Float,
        String,
        Heredoc,
        LBrack,
        RBrack,
        LBrace,
        RBrace,
        Comma,
        Assign,
        Period,
        Add,
        Sub,
    }

    private readonly record struct Token(TokenType Type, string Text, string Value, HclPosition Position);

    private sealed class HclSyntaxException(HclPosition position, string message) : Exception(message)
    {
        public HclError Error { get; } = new(position, message);
    }

    private static string Describe(TokenType type) => type switch
    {
        TokenType.Eof => "end of file",
        TokenType.Ident => "a bare word",
        TokenType.Bool => "a boolean",
        TokenType.Number => "a number",
        TokenType.Float => "a float",
        TokenType.String => "a string",
        TokenType.Heredoc => "a heredoc",
        TokenType.LBrack => "\"[\"",
        TokenType.RBrack => "\"]\"",
        TokenType.LBrace => "\"{\"",
        TokenType.RBrace => "\"}\"",
        TokenType.Comma => "\",\"",
        TokenType.Assign => "\"=\"",
        TokenType.Period => "\".\"",
        TokenType.Add => "\"+\"",
        _ => "\"-\"",
    };

    /// <summary>Turns text into tokens, skipping whitespace and comments.</summary>
    private sealed class Scanner(string src)
    {
        private int _offset;
        private int _line = 1;
        private int _column = 1;

        private char Peek(int ahead = 0) => _offset + ahead < src.Length ? src[_offset + ahead] : '\0';

        private bool AtEnd => _offset >= src.Length;

        private HclPosition Here => new(_line, _column);

        private char Next()
        {
            var c = src[_offset++];
            if (c == '\n')
            {
                _line++;
                _column = 1;
            }
            else
            {
                _column++;
            }

            return c;
        }

        private static HclSyntaxException Error(HclPosition at, string message) => new(at, message);

        public Token Scan()
        {
            while (true)
            {
                while (!AtEnd && Peek() is ' ' or '\t' or '\n' or '\r')
                {
                    Next();
                }

                if (AtEnd)
                {
                    return new Token(TokenType.Eof, string.Empty, string.Empty, Here);
                }

                if (Peek() == '#' || (Peek() == '/' && Peek(1) == '/'))
                {
                    while (!AtEnd && Peek() != '\n')
                    {
                        Next();
                    }

                    continue;
                }

                if (Peek() == '/' && Peek(1) == '*')
                {
                    var start = Here;
                    Next();
                    Next();
                    while (!(Peek() == '*' && Peek(1) == '/'))
                    {
                        if (AtEnd)
                        {
                            throw Error(start, "comment not terminated (a \"/*\" without \"*/\")");
                        }

                        Next();
                    }

                    Next();
                    Next();
                    continue;
                }

                break;
            }

            var position = Here;
            var begin = _offset;
            var c = Peek();
            if (c == '\0')
            {
                throw Error(position, "unexpected null character (0x00)");
            }

            if (IsLetter(c))
            {
                while (!AtEnd && (IsLetter(Peek()) || char.IsDigit(Peek()) || Peek() is '-' or '.'))
                {
                    Next();
                }

                var word = src[begin.._offset];
                return new Token(word is "true" or "false" ? TokenType.Bool : TokenType.Ident, word, word, position);
            }

            if (char.IsAsciiDigit(c) || (c == '-' && char.IsAsciiDigit(Peek(1))))
            {
                if (c == '-')
                {
                    Next();
                }

                var type = ScanNumber(position);
                var number = src[begin.._offset];
                return new Token(type, number, number, position);
            }

            switch (c)
            {
                case '"':
                    var value = ScanString(position);
                    return new Token(TokenType.String, src[begin.._offset], value, position);
                case '<':
                    var heredoc = ScanHeredoc(position);
                    return new Token(TokenType.Heredoc, src[begin.._offset], heredoc, position);
                case '/':
                    throw Error(position, "expected \"/\" for a comment (\"//\" or \"/*\")");
                case '.' when char.IsAsciiDigit(Peek(1)):
                    Next();
                    ScanDigits();
                    ScanExponent();
                    return new Token(TokenType.Float, src[begin.._offset], src[begin.._offset], position);
            }

            Next();
            var single = c switch
            {
                '[' => TokenType.LBrack,
                ']' => TokenType.RBrack,
                '{' => TokenType.LBrace,
                '}' => TokenType.RBrace,
                ',' => TokenType.Comma,
                '=' => TokenType.Assign,
                '.' => TokenType.Period,
                '+' => TokenType.Add,
                '-' => TokenType.Sub,
                _ => throw Error(position, $"illegal character \"{c}\""),
            };
            return new Token(single, c.ToString(), c.ToString(), position);
        }

        private static bool IsLetter(char c) => char.IsAsciiLetter(c) || c == '_' || (c >= 0x80 && char.IsLetter(c));

        private void ScanDigits()
        {
            while (char.IsAsciiDigit(Peek()))
            {
                Next();
            }
        }

        private bool ScanExponent()
        {
            if (Peek() is not ('e' or 'E'))
            {
                return false;
            }

            Next();
            if (Peek() is '+' or '-')
            {
                Next();
            }

            ScanDigits();
            return true;
        }

        private TokenType ScanNumber(HclPosition position)
        {
            if (Peek() == '0' && Peek(1) is 'x' or 'X')
            {
                Next();
                Next();
                var found = false;
                while (char.IsAsciiHexDigit(Peek()))
                {
                    Next();
                    found = true;
                }

                return found ? TokenType.Number : throw Error(position, "illegal hexadecimal number");
            }

            var octal = Peek() == '0';
            var illegalOctal = false;
            while (char.IsAsciiDigit(Peek()))
            {
                illegalOctal |= octal && Peek() is '8' or '9';
                Next();
            }

            if (ScanExponent())
            {
                return TokenType.Float;
            }

            if (Peek() == '.')
            {
                Next();
                ScanDigits();
                ScanExponent();
                return TokenType.Float;
            }

            return illegalOctal ? throw Error(position, "illegal octal number (a number starting with 0 is octal: digits 0 to 7)") : TokenType.Number;
        }

        /// <summary>A double-quoted string; like the Go scanner, <c>${ ... }</c> may hold quotes and is kept verbatim.</summary>
        private string ScanString(HclPosition position)
        {
            Next();
            var value = new StringBuilder();
            var braces = 0;
            while (true)
            {
                if (AtEnd || (Peek() == '\n' && braces == 0))
                {
                    throw Error(position, "string not terminated (a double quote is missing before the end of the line)");
                }

                var c = Next();
                if (braces == 0 && c == '"')
                {
                    return value.ToString();
                }

                if (braces == 0 && c == '$' && Peek() == '{')
                {
                    braces++;
                    value.Append(c).Append(Next());
                    continue;
                }

                if (braces > 0)
                {
                    braces += c switch { '{' => 1, '}' => -1, _ => 0 };
                    value.Append(c);
                    continue;
                }

                if (c != '\\')
                {
                    value.Append(c);
                    continue;
                }

                var escapeAt = new HclPosition(_line, _column - 1);
                if (AtEnd)
                {
                    throw Error(escapeAt, "string not terminated");
                }

                var e = Next();
                switch (e)
                {
                    case 'a': value.Append('\a'); break;
                    case 'b': value.Append('\b'); break;
                    case 'f': value.Append('\f'); break;
                    case 'n': value.Append('\n'); break;
                    case 'r': value.Append('\r'); break;
                    case 't': value.Append('\t'); break;
                    case 'v': value.Append('\v'); break;
                    case '\\': value.Append('\\'); break;
                    case '"': value.Append('"'); break;
                    case >= '0' and <= '7':
                        var octal = e - '0';
                        for (var i = 0; i < 2; i++)
                        {
                            if (Peek() is < '0' or > '7')
                            {
                                throw Error(escapeAt, "illegal escape: \\ and a digit needs three octal digits (\\101)");
                            }

                            octal = (octal * 8) + (Next() - '0');
                        }

                        if (octal > 255)
                        {
                            throw Error(escapeAt, "illegal escape: an octal escape is at most \\377");
                        }

                        value.Append((char)octal);
                        break;
                    case 'x' or 'u' or 'U':
                        var count = e switch { 'x' => 2, 'u' => 4, _ => 8 };
                        var hex = new StringBuilder();
                        for (var i = 0; i < count; i++)
                        {
                            if (!char.IsAsciiHexDigit(Peek()))
                            {
                                throw Error(escapeAt, $"illegal escape: \\{e} needs {count} hexadecimal digits");
                            }

                            hex.Append(Next());
                        }

                        var code = int.Parse(hex.ToString(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                        if (code > 0x10FFFF || code is >= 0xD800 and <= 0xDFFF || code < 0)
                        {
                            throw Error(escapeAt, $"illegal escape: \\{e}{hex} is not a Unicode code point");
                        }

                        value.Append(char.ConvertFromUtf32(code));
                        break;
                    default:
                        throw Error(escapeAt, $"illegal escape \"\\{e}\" (valid: \\n \\t \\r \\\" \\\\ \\a \\b \\f \\v \\NNN \\xHH \\uHHHH \\UHHHHHHHH)");
                }
            }
        }

        /// <summary>
        /// <c>&lt;&lt;ANCHOR</c> or <c>&lt;&lt;-ANCHOR</c>, a newline, lines, then a line holding the anchor
        /// (leading whitespace allowed). The value is the lines in between, each with its newline; with
        /// <c>&lt;&lt;-</c>, the terminating line's indentation is removed from every line when all have it.
        /// </summary>
        private string ScanHeredoc(HclPosition position)
        {
            Next();
            if (Peek() != '<')
            {
                throw Error(position, "illegal character \"<\" (a heredoc starts with \"<<\")");
            }

            Next();
            var unindent = false;
            if (Peek() == '-')
            {
                unindent = true;
                Next();
            }

            var anchorStart = _offset;
            while (!AtEnd && (IsLetter(Peek()) || char.IsDigit(Peek())))
            {
                Next();
            }

            var anchor = src[anchorStart.._offset];
            if (AtEnd)
            {
                throw Error(position, "heredoc not terminated");
            }

            if (Peek() != '\n')
            {
                throw Error(position, "invalid characters after the heredoc anchor (the anchor must end its line)");
            }

            if (anchor.Length == 0)
            {
                throw Error(position, "zero-length heredoc anchor");
            }

            Next();
            var lines = new List<string>();
            while (true)
            {
                if (AtEnd)
                {
                    throw Error(position, $"heredoc not terminated: no line holding \"{anchor}\"");
                }

                var lineStart = _offset;
                while (!AtEnd && Peek() != '\n')
                {
                    Next();
                }

                var line = src[lineStart.._offset];
                if (!AtEnd)
                {
                    Next();
                }

                var trimmed = line.TrimStart(' ', '\t', '\v', '\f', '\r').TrimEnd('\r');
                if (trimmed == anchor)
                {
                    var indentation = line[..(line.Length - line.TrimStart(' ', '\t', '\v', '\f', '\r').Length)];
                    return Content(lines, indentation, unindent);
                }

                lines.Add(line);
            }
        }

        private static string Content(List<string> lines, string indentation, bool unindent)
        {
            // hcl v1's unindentHeredoc: the text keeps the terminating line's indentation at its end
            // (with "<<"), which "<<-" removes from every line when all lines start with it.
            var text = string.Concat(lines.Select(l => l + "\n")) + indentation;
            if (!unindent)
            {
                return text;
            }

            if (lines.All(l => l.StartsWith(indentation, StringComparison.Ordinal)))
            {
                return string.Concat(lines.Select(l => l[indentation.Length..] + "\n"));
            }

            return text.TrimEnd(' ', '\t');
        }
    }

    /// <summary>Recursive descent over the tokens, following hashicorp/hcl v1's parser.</summary>
    private sealed class Parser(Scanner scanner)
    {
        private Token _token;
        private bool _unscanned;
        private int _depth;

        private Token Scan()
        {
            if (_unscanned)
            {
                _unscanned = false;
                return _token;
            }

            _token = scanner.Scan();
            return _token;
        }

        private void Unscan() => _unscanned = true;

        public HclObject File() => new(ObjectList(inObject: false), new HclPosition(1, 1));

        private List<HclItem> ObjectList(bool inObject)
        {
            var items = new List<HclItem>();
            while (true)
            {
                var next = Scan();
                Unscan();
                if (next.Type == TokenType.Eof && !inObject)
                {
                    return items;
                }

                if (inObject && next.Type is TokenType.RBrace or TokenType.Eof)
                {
                    return items;
                }

                items.Add(ObjectItem());
                if (Scan().Type != TokenType.Comma)
                {
                    Unscan();
                }
            }
        }

        private HclItem ObjectItem()
        {
            var keys = new List<HclKey>();
            while (true)
            {
                var token = Scan();
                switch (token.Type)
                {
                    case TokenType.Ident or TokenType.String:
                        keys.Add(new HclKey(token.Value, token.Type == TokenType.String, token.Position));
                        continue;
                    case TokenType.Assign when keys.Count == 1:
                        return new HclItem(keys, Value(), IsAssignment: true);
                    case TokenType.Assign when keys.Count == 0:
                        throw new HclSyntaxException(token.Position, "\"=\" without a key before it");
                    case TokenType.Assign:
                        throw new HclSyntaxException(token.Position, $"key \"{string.Join(' ', keys.Select(k => k.Name))}\": a block with labels needs \"{{\", not \"=\"");
                    case TokenType.LBrace when keys.Count > 0:
                        return new HclItem(keys, ObjectType(token.Position), IsAssignment: false);
                    case TokenType.LBrace:
                        throw new HclSyntaxException(token.Position, "\"{\" without a key before it");
                    case TokenType.Eof or TokenType.RBrace when keys.Count > 0:
                        throw new HclSyntaxException(token.Position, $"key \"{string.Join(' ', keys.Select(k => k.Name))}\" expects \"=\" and a value, or a block \"{{ ... }}\"");
                    default:
                        throw new HclSyntaxException(token.Position, keys.Count > 0
                            ? $"key \"{string.Join(' ', keys.Select(k => k.Name))}\" expects \"=\" and a value, or a block \"{{ ... }}\", not {Describe(token.Type)}"
                            : $"expected a key, not {Describe(token.Type)}");
                }
            }
        }

        private HclNode Value()
        {
            var token = Scan();
            return token.Type switch
            {
                TokenType.Number or TokenType.Float or TokenType.Bool or TokenType.String or TokenType.Heredoc => Literal(token),
                TokenType.LBrace => ObjectType(token.Position),
                TokenType.LBrack => ListType(token.Position),
                TokenType.Ident => throw new HclSyntaxException(token.Position, $"{token.Text} is not a value; write a string in double quotes (\"{token.Text}\"), a number, true or false"),
                _ => throw new HclSyntaxException(token.Position, $"expected a value after \"=\", not {Describe(token.Type)}"),
            };
        }

        private static HclLiteral Literal(Token token) => new(
            token.Type switch
            {
                TokenType.Number => HclLiteralKind.Number,
                TokenType.Float => HclLiteralKind.Float,
                TokenType.Bool => HclLiteralKind.Bool,
                TokenType.String => HclLiteralKind.String,
                _ => HclLiteralKind.Heredoc,
            },
            token.Text,
            token.Value,
            token.Position);

        private void Enter(HclPosition position)
        {
            if (++_depth > MaxDepth)
            {
                throw new HclSyntaxException(position, $"objects and lists are nested more than {MaxDepth} levels deep");
            }
        }

        private HclObject ObjectType(HclPosition position)
        {
            Enter(position);
            var items = ObjectList(inObject: true);
            var close = Scan();
            if (close.Type != TokenType.RBrace)
            {
                throw new HclSyntaxException(close.Position, $"the object opened at {position} is not closed: expected \"}}\", not {Describe(close.Type)}");
            }

            _depth--;
            return new HclObject(items, position);
        }

        private HclList ListType(HclPosition position)
        {
            Enter(position);
            var items = new List<HclNode>();
            var needComma = false;
            while (true)
            {
                var token = Scan();
                if (needComma && token.Type is not (TokenType.Comma or TokenType.RBrack))
                {
                    throw new HclSyntaxException(token.Position, $"in the list opened at {position}: expected \",\" or \"]\", not {Describe(token.Type)}");
                }

                switch (token.Type)
                {
                    case TokenType.Number or TokenType.Float or TokenType.Bool or TokenType.String or TokenType.Heredoc:
                        items.Add(Literal(token));
                        needComma = true;
                        break;
                    case TokenType.Comma:
                        needComma = false;
                        break;
                    case TokenType.LBrace:
                        items.Add(ObjectType(token.Position));
                        needComma = true;
                        break;
                    case TokenType.LBrack:
                        items.Add(ListType(token.Position));
                        needComma = true;
                        break;
                    case TokenType.RBrack:
                        _depth--;
                        return new HclList(items, position);
                    case TokenType.Eof:
                        throw new HclSyntaxException(token.Position, $"the list opened at {position} is not closed: expected \"]\"");
                    default:
                        throw new HclSyntaxException(token.Position, $"in the list opened at {position}: unexpected {Describe(token.Type)}");
                }
            }
        }
    }
}
