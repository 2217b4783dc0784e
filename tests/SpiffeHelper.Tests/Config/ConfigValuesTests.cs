using SpiffeHelper.Config;

namespace SpiffeHelper.Tests.Config;

public sealed class ConfigValuesTests
{
    [Theory]
    [InlineData("", new string[0])]
    [InlineData("a b  c", new[] { "a", "b", "c" })]
    [InlineData("-config \"my file.conf\" x", new[] { "-config", "my file.conf", "x" })]
    [InlineData("--flag=\"a \\\"quoted\\\" word\"", new[] { "--flag=a \"quoted\" word" })]
    [InlineData("\"\"", new[] { "" })]
    public void TrySplitArguments_ShellLikeLine_SplitsOnSpacesOutsideDoubleQuotes(string line, string[] expected)
    {
        Assert.True(ConfigValues.TrySplitArguments(line, out var arguments, out _));
        Assert.Equal(expected, arguments);
    }

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("5m", 300_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("250ms", 250)]
    [InlineData("1.5s", 1_500)]
    public void TryParseDuration_GoStyle_Parses(string text, int milliseconds)
    {
        Assert.True(ConfigValues.TryParseDuration(text, out var duration));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), duration);
    }

    [Theory]
    [InlineData("${A}-${B}", "1-2")]
    [InlineData("$$HOME", "$HOME")]
    [InlineData("no refs", "no refs")]
    [InlineData("cost $5", "cost $5")]
    public void TryExpandEnvironment_References_AreReplaced(string text, string expected)
    {
        var env = new Dictionary<string, string> { ["A"] = "1", ["B"] = "2" };

        Assert.True(ConfigValues.TryExpandEnvironment(text, n => env.GetValueOrDefault(n), out var expanded, out _));
        Assert.Equal(expected, expanded);
    }
}
