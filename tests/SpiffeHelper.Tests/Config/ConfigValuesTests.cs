using SpiffeHelper.Config;

namespace SpiffeHelper.Tests.Config;

public sealed class ConfigValuesTests
{
    [Theory]
    [InlineData("", new string[0])]
    [InlineData("a b  c", new[] { "a", "b", "", "c" })]
    [InlineData("-config \"my file.conf\" x", new[] { "-config", "my file.conf", "x" })]
    [InlineData("\"--flag=a \"\"quoted\"\" word\"", new[] { "--flag=a \"quoted\" word" })]
    [InlineData("\"\"", new[] { "" })]
    [InlineData(" ", new[] { "", "" })]
    [InlineData("-c \"kill -TERM $$\"", new[] { "-c", "kill -TERM $$" })]
    [InlineData("\n\na b\nc d", new[] { "a", "b" })]
    [InlineData("\"multi\nline\" x", new[] { "multi\nline", "x" })]
    [InlineData("a\r\n", new[] { "a" })]
    [InlineData("a\\b c", new[] { "a\\b", "c" })]
    public void TrySplitArguments_AsGoCsvWithSpaceSeparator_Splits(string line, string[] expected)
    {
        Assert.True(ConfigValues.TrySplitArguments(line, out var arguments, out _));
        Assert.Equal(expected, arguments);
    }

    [Theory]
    [InlineData("a\"b", "column 2: a double quote inside an argument that does not start with one")]
    [InlineData("\"a\"b", "column 3: a quoted argument must end with a double quote followed by a space")]
    [InlineData("x \"open", "column 3: the double quote that opens an argument is not closed")]
    [InlineData("--name=\\\"x\\\"", "column 9: a double quote inside an argument")]
    [InlineData("\n", "holds no argument")]
    public void TrySplitArguments_WhatGoCsvRefuses_IsAnErrorWithTheColumn(string line, string error)
    {
        Assert.False(ConfigValues.TrySplitArguments(line, out _, out var message));
        Assert.StartsWith(error, message, StringComparison.Ordinal);
    }

    [Fact]
    public void TryParseDuration_HugeValue_SaysTooLongInsteadOfThrowing()
    {
        Assert.True(ConfigValues.TryParseDuration("99999999999h", out _, out var tooLong));
        Assert.True(tooLong);
        Assert.True(ConfigValues.TryParseDuration("577h", out var duration, out tooLong));
        Assert.False(tooLong);
        Assert.Equal(TimeSpan.FromHours(577), duration);
    }

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("5m", 300_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("250ms", 250)]
    [InlineData("1.5s", 1_500)]
    public void TryParseDuration_GoStyle_Parses(string text, int milliseconds)
    {
        Assert.True(ConfigValues.TryParseDuration(text, out var duration, out var tooLong));
        Assert.False(tooLong);
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    [Theory]
    [InlineData("${A}-${B}", "1-2")]
    [InlineData("$$HOME", "$$HOME")]
    [InlineData("kill -TERM $$", "kill -TERM $$")]
    [InlineData("$${A}", "${A}")]
    [InlineData("$", "$")]
    [InlineData("no refs", "no refs")]
    [InlineData("cost $5", "cost $5")]
    public void TryExpandEnvironment_References_AreReplaced(string text, string expected)
    {
        var env = new Dictionary<string, string> { ["A"] = "1", ["B"] = "2" };

        Assert.True(ConfigValues.TryExpandEnvironment(text, n => env.GetValueOrDefault(n), out var expanded, out _));
        Assert.Equal(expected, expanded);
    }
}
