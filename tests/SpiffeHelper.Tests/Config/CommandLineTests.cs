using SpiffeHelper.Cli;

namespace SpiffeHelper.Tests.Config;

public sealed class CommandLineTests
{
    [Theory]
    [InlineData(new string[0], "helper.conf", null)]
    [InlineData(new[] { "-config", "a.conf" }, "a.conf", null)]
    [InlineData(new[] { "--config", "a.conf" }, "a.conf", null)]
    [InlineData(new[] { "-config=a.conf", "-daemon-mode=false" }, "a.conf", false)]
    [InlineData(new[] { "--daemon-mode", "false" }, "helper.conf", false)]
    [InlineData(new[] { "-daemon-mode" }, "helper.conf", true)]
    [InlineData(new[] { "-daemon-mode", "-config", "b.conf" }, "b.conf", true)]
    public void TryParse_GoFlagForms_AreAccepted(string[] args, string config, bool? daemonMode)
    {
        Assert.True(CommandLine.TryParse(args, out var parsed, out var error), error);
        Assert.Equal(config, parsed.ConfigFile);
        Assert.Equal(daemonMode, parsed.DaemonMode);
    }

    [Theory]
    [InlineData(new[] { "-confg", "a" }, "flag provided but not defined: -confg")]
    [InlineData(new[] { "-config" }, "needs a file name")]
    [InlineData(new[] { "-daemon-mode=maybe" }, "use true or false")]
    [InlineData(new[] { "stray" }, "unexpected argument")]
    public void TryParse_BadFlags_SaysWhatIsWrong(string[] args, string message)
    {
        Assert.False(CommandLine.TryParse(args, out _, out var error));
        Assert.Contains(message, error);
    }
}
