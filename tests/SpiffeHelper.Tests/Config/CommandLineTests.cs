using Spiffe.Testing;
using SpiffeHelper.Cli;
using SpiffeHelper.Tests.EndToEnd;

namespace SpiffeHelper.Tests.Config;

/// <summary>The command line parsed by the rules of Go's flag package, which the Go spiffe-helper uses.</summary>
public sealed class CommandLineTests
{
    /// <summary>Accepted forms: config file, -daemon-mode (null: not given), -version, -h/-help, and the arguments Go leaves unparsed.</summary>
    [Theory]
    [InlineData(new string[0], "helper.conf", null, false, false, "")]
    [InlineData(new[] { "-config", "a.conf" }, "a.conf", null, false, false, "")]
    [InlineData(new[] { "--config", "a.conf" }, "a.conf", null, false, false, "")]
    [InlineData(new[] { "-config=a.conf" }, "a.conf", null, false, false, "")]
    [InlineData(new[] { "--config=a=b.conf" }, "a=b.conf", null, false, false, "")]
    [InlineData(new[] { "-config", "-version" }, "-version", null, false, false, "")]
    [InlineData(new[] { "-config", "a.conf", "-config", "b.conf" }, "b.conf", null, false, false, "")]
    [InlineData(new[] { "-daemon-mode=false" }, "helper.conf", false, false, false, "")]
    [InlineData(new[] { "--daemon-mode=false" }, "helper.conf", false, false, false, "")]
    [InlineData(new[] { "-daemon-mode=0" }, "helper.conf", false, false, false, "")]
    [InlineData(new[] { "-daemon-mode=F" }, "helper.conf", false, false, false, "")]
    [InlineData(new[] { "-daemon-mode=FALSE" }, "helper.conf", false, false, false, "")]
    [InlineData(new[] { "-daemon-mode=True" }, "helper.conf", true, false, false, "")]
    [InlineData(new[] { "-daemon-mode=t" }, "helper.conf", true, false, false, "")]
    [InlineData(new[] { "-daemon-mode" }, "helper.conf", true, false, false, "")]
    [InlineData(new[] { "-daemon-mode", "-config", "b.conf" }, "b.conf", true, false, false, "")]

    // A boolean flag takes no separate value: "false" ends the flags, and what follows is not parsed.
    [InlineData(new[] { "-daemon-mode", "false" }, "helper.conf", true, false, false, "false")]
    [InlineData(new[] { "--daemon-mode", "false", "-config", "b.conf" }, "helper.conf", true, false, false, "false -config b.conf")]
    [InlineData(new[] { "-config", "a.conf", "stray", "-version" }, "a.conf", null, false, false, "stray -version")]
    [InlineData(new[] { "--", "-version" }, "helper.conf", null, false, false, "-version")]
    [InlineData(new[] { "-", "-version" }, "helper.conf", null, false, false, "- -version")]
    [InlineData(new[] { "-version" }, "helper.conf", null, true, false, "")]
    [InlineData(new[] { "--version" }, "helper.conf", null, true, false, "")]
    [InlineData(new[] { "-version=false" }, "helper.conf", null, false, false, "")]
    [InlineData(new[] { "-h" }, "helper.conf", null, false, true, "")]
    [InlineData(new[] { "-help" }, "helper.conf", null, false, true, "")]
    [InlineData(new[] { "--help" }, "helper.conf", null, false, true, "")]

    // -h stops the parsing: a bad flag after it is never seen, as in Go.
    [InlineData(new[] { "-h", "-nosuchflag" }, "helper.conf", null, false, true, "")]
    public void TryParse_GoFlagForms_MeanWhatTheyMeanInGo(string[] args, string config, bool? daemonMode, bool version, bool help, string ignored)
    {
        Assert.True(CommandLine.TryParse(args, out var parsed, out var error), error);
        Assert.Equal(config, parsed.ConfigFile);
        Assert.Equal(daemonMode, parsed.DaemonMode);
        Assert.Equal(version, parsed.ShowVersion);
        Assert.Equal(help, parsed.ShowHelp);
        Assert.Equal(ignored, string.Join(' ', parsed.Ignored));
    }

    /// <summary>Go's flag package's own error texts.</summary>
    [Theory]
    [InlineData(new[] { "-confg", "a" }, "flag provided but not defined: -confg")]
    [InlineData(new[] { "--x=1" }, "flag provided but not defined: -x")]
    [InlineData(new[] { "-config" }, "flag needs an argument: -config")]
    [InlineData(new[] { "-daemon-mode=maybe" }, "invalid boolean value \"maybe\" for -daemon-mode: parse error")]
    [InlineData(new[] { "-daemon-mode=" }, "invalid boolean value \"\" for -daemon-mode: parse error")]
    [InlineData(new[] { "-version=yes" }, "invalid boolean value \"yes\" for -version: parse error")]
    [InlineData(new[] { "---config", "a" }, "bad flag syntax: ---config")]
    [InlineData(new[] { "-=x" }, "bad flag syntax: -=x")]
    [InlineData(new[] { "-nosuchflag", "-h" }, "flag provided but not defined: -nosuchflag")]
    public void TryParse_BadFlags_SayWhatGoSays(string[] args, string message)
    {
        Assert.False(CommandLine.TryParse(args, out _, out var error));
        Assert.Equal(message, error);
    }

    [Theory]
    [InlineData(new[] { "-nosuchflag" }, 2, "flag provided but not defined: -nosuchflag\n")]
    [InlineData(new[] { "-daemon-mode=maybe" }, 2, "invalid boolean value \"maybe\" for -daemon-mode: parse error\n")]
    [InlineData(new[] { "-h" }, 0, "")]
    [InlineData(new[] { "--help" }, 0, "")]
    [InlineData(new[] { "-version" }, 0, "")]
    public async Task Run_FlagOutcome_ExitsAsGosFlagPackage(string[] args, int exitCode, string errorStart)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var environment = new HelperEnvironment(_ => null, Path.GetTempPath(), output, error, TimeProvider.System);

        var code = await HelperApp.RunAsync(args, environment, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(exitCode, code);
        Assert.StartsWith(errorStart, error.ToString(), StringComparison.Ordinal);
        if (exitCode == 2)
        {
            Assert.Contains("Usage: spiffe-helper", error.ToString(), StringComparison.Ordinal);
        }
        else
        {
            Assert.Contains(args[0] == "-version" ? "spiffe-helper " : "Usage: spiffe-helper", output.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Run_DaemonModeFalseAsASeparateWord_RunsAsDaemonAsGoAndWarnsAboutTheIgnoredWord()
    {
        using var dir = new TempDir();
        using var ca = TestCertificateAuthority.Create("example.org");
        await using var api = await FakeWorkloadApi.StartAsync().WaitAsync(Wait.Default);
        api.State.SetX509Response(ca.Response(ca.Issue("/web")));
        var config = dir.Combine("helper.conf");
        await File.WriteAllTextAsync(config, $"cert_dir = \"{dir.Combine("certs")}\"\ndaemon_mode = false\n" + Scenario.AgentConfig(api));
        using var error = new StringWriter();
        var environment = new HelperEnvironment(_ => null, dir.Path, TextWriter.Null, error, TimeProvider.System);
        using var stop = new CancellationTokenSource();

        // In Go, "-daemon-mode false" is -daemon-mode=true and an ignored "false": the helper keeps running.
        var run = Task.Run(() => HelperApp.RunAsync(["-config", config, "-daemon-mode", "false"], environment, stop.Token));
        await Wait.UntilAsync(() => File.Exists(dir.Combine("certs", "svid.pem")), "the first write");
        await Task.Delay(500);
        Assert.False(run.IsCompleted, "the helper exited as in one-shot mode");
        await stop.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(Wait.Default));

        var log = error.ToString();
        Assert.Contains("Ignoring the command-line arguments after the flags: false", log, StringComparison.Ordinal);
        Assert.Contains("running in daemon mode", log, StringComparison.Ordinal);
        Assert.Contains("write -daemon-mode=false", log, StringComparison.Ordinal);

        // The start-up line names the write strategy as the config spells it.
        Assert.Contains($"files in {dir.Combine("certs")} (atomic_dir)", log, StringComparison.Ordinal);
    }
}
