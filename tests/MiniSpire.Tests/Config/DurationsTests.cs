using MiniSpire.Config;

namespace MiniSpire.Tests.Config;

public sealed class DurationsTests
{
    [Theory]
    [InlineData("90s", 90)]
    [InlineData("5m", 300)]
    [InlineData("1h", 3600)]
    [InlineData("24h", 86400)]
    [InlineData("1h30m", 5400)]
    [InlineData("1.5h", 5400)]
    public void TryParse_GoStyleDuration_ReturnsSeconds(string text, int seconds)
    {
        Assert.True(Durations.TryParse(text, out var value, out var error), error);
        Assert.Equal(TimeSpan.FromSeconds(seconds), value);
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("10", "is not a duration")]
    [InlineData("3d", "unknown unit \"d\"")]
    [InlineData("h", "is not a duration")]
    public void TryParse_Malformed_ExplainsWhy(string text, string expected)
    {
        Assert.False(Durations.TryParse(text, out _, out var error));
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}
