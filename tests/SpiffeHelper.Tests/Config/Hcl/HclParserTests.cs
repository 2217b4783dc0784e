using SpiffeHelper.Config.Hcl;

namespace SpiffeHelper.Tests.Config.Hcl;

public sealed class HclParserTests
{
    private static HclObject Parse(string text)
    {
        var result = HclParser.Parse(text);
        Assert.True(result.Error is null, result.Error?.ToString());
        return result.Root!;
    }

    private static HclError Fails(string text)
    {
        var result = HclParser.Parse(text);
        Assert.Null(result.Root);
        return Assert.IsType<HclError>(result.Error);
    }

    private static HclLiteral Literal(string text) => Assert.IsType<HclLiteral>(Assert.Single(Parse(text).Items).Value);

    [Fact]
    public void Parse_KeyValuesAndComments_KeepsOrderAndLines()
    {
        var root = Parse("# a\na = 1 // one\n/* two\n lines */ b = \"x\"\nc = true, d = 1.5");

        Assert.Equal(["a", "b", "c", "d"], root.Items.Select(i => i.Keys[0].Name));
        Assert.Equal([2, 4, 5, 5], root.Items.Select(i => i.Position.Line));
        Assert.All(root.Items, i => Assert.True(i.IsAssignment));
        Assert.Equal(HclLiteralKind.Float, ((HclLiteral)root.Items[3].Value).Kind);
    }

    [Theory]
    [InlineData("0644", 420)]
    [InlineData("420", 420)]
    [InlineData("0x1A4", 420)]
    [InlineData("-1", -1)]
    [InlineData("0", 0)]
    public void Parse_Numbers_AreGoIntegers(string text, long expected)
    {
        var literal = Literal("m = " + text);

        Assert.Equal(HclLiteralKind.Number, literal.Kind);
        Assert.Equal(text, literal.Text);
        Assert.True(HclIntegers.TryParse(literal.Text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("0o644", 420)]
    [InlineData("+7", 7)]
    [InlineData("9223372036854775807", long.MaxValue)]
    [InlineData("-9223372036854775808", long.MinValue)]
    public void HclIntegers_GoParseIntBaseZero_Parses(string text, long expected)
    {
        Assert.True(HclIntegers.TryParse(text, out var value));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("9223372036854775808")]
    [InlineData("0689")]
    [InlineData("")]
    [InlineData("0x")]
    [InlineData("12a")]
    public void HclIntegers_NotAnInt64_Fails(string text) => Assert.False(HclIntegers.TryParse(text, out _));

    [Theory]
    [InlineData("\"a\\tb\\n\"", "a\tb\n")]
    [InlineData("\"q \\\"x\\\" \\\\\"", "q \"x\" \\")]
    [InlineData("\"\\u00e9\\U0001F600\\x41\\101\"", "é😀AA")]
    [InlineData("\"${foo(\"bar\")} $$ $\"", "${foo(\"bar\")} $$ $")]
    [InlineData("\"\"", "")]
    public void Parse_Strings_ApplyGoEscapesAndKeepInterpolationsAsWritten(string text, string expected)
    {
        var literal = Literal("s = " + text);

        Assert.Equal(HclLiteralKind.String, literal.Kind);
        Assert.Equal(expected, literal.Value);
    }

    [Theory]
    [InlineData("s = <<EOF\nline 1\n  line 2\nEOF\n", "line 1\n  line 2\n")]
    [InlineData("s = <<EOF\nEOF\n", "")]
    [InlineData("s = <<-EOT\n    a\n      b\n    EOT\n", "a\n  b\n")]
    [InlineData("s = <<-EOT\n  a\n b\n  EOT\n", "  a\n b\n")]
    [InlineData("s = <<EOF\r\nwindows\r\nEOF\r\n", "windows\n")]
    [InlineData("s = <<EOF\nno newline at the end\nEOF", "no newline at the end\n")]
    public void Parse_Heredocs_AsHclV1(string text, string expected)
    {
        var literal = Literal(text);

        Assert.Equal(HclLiteralKind.Heredoc, literal.Kind);
        Assert.Equal(expected, literal.Value);
    }

    [Fact]
    public void Parse_BlocksObjectsAndListsOfObjects_NestAsWritten()
    {
        var root = Parse("""
            health_checks {
              listener_enabled = true
            }
            health_checks = { bind_port = 1 }
            svc "web" { port = 2 }
            jwt_svids = [
              { jwt_audience = "a" },
              {
                jwt_audience = "b",
              },
            ]
            list = ["x", "y",]
            """);

        Assert.False(root.Items[0].IsAssignment);
        Assert.True(root.Items[1].IsAssignment);
        Assert.IsType<HclObject>(root.Items[1].Value);
        Assert.Equal(["svc", "web"], root.Items[2].Keys.Select(k => k.Name));
        Assert.True(root.Items[2].Keys[1].Quoted);
        var jwt = Assert.IsType<HclList>(root.Items[3].Value);
        Assert.Equal(2, jwt.Items.Count);
        Assert.Equal(8, jwt.Items[1].Position.Line);
        var list = Assert.IsType<HclList>(root.Items[4].Value);
        Assert.Equal(["x", "y"], list.Items.Cast<HclLiteral>().Select(l => l.Value));
    }

    [Theory]
    [InlineData("a = 0689", 1, "illegal octal number")]
    [InlineData("a = \"open\nb = 1", 1, "string not terminated")]
    [InlineData("a = \"\\q\"", 1, "illegal escape \"\\q\"")]
    [InlineData("a {\n  b = 1\n", 3, "is not closed")]
    [InlineData("a = [1 2]", 1, "expected \",\" or \"]\"")]
    [InlineData("a = yes", 1, "yes is not a value")]
    [InlineData("a b = 1", 1, "a block with labels needs \"{\"")]
    [InlineData("a", 1, "expects \"=\" and a value")]
    [InlineData("/* open", 1, "comment not terminated")]
    [InlineData("a = <<EOF\nnever closed\n", 1, "heredoc not terminated")]
    [InlineData("a = <<EOF trailing\nEOF\n", 1, "invalid characters after the heredoc anchor")]
    [InlineData("\n\na = 1 = 2", 3, "\"=\" without a key before it")]
    [InlineData("a = @", 1, "illegal character \"@\"")]
    public void Parse_BadSyntax_GivesTheLineAndWhatIsWrong(string text, int line, string message)
    {
        var error = Fails(text);

        Assert.Equal(line, error.Position.Line);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(64, true)]
    [InlineData(65, false)]
    [InlineData(100_000, false)]
    public void Parse_DeepNesting_IsLimitedWithoutExhaustingTheStack(int depth, bool accepted)
    {
        var lists = "a = " + new string('[', depth) + new string(']', depth);
        var objects = "a = " + string.Concat(Enumerable.Repeat("{ b = ", depth - 1)) + "{}" + new string('}', depth - 1);

        foreach (var text in new[] { lists, objects })
        {
            var result = HclParser.Parse(text);
            Assert.Equal(accepted, result.Error is null);
            if (!accepted)
            {
                Assert.Contains("nested more than 64 levels deep", result.Error!.Message, StringComparison.Ordinal);
            }
        }
    }
}
