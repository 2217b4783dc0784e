using SpiffeHelper.Config;

namespace SpiffeHelper.Tests.Config;

/// <summary>Issue 16 item 8: config values that used to crash the helper are config errors with file, line, key and range.</summary>
public sealed class ConfigCrashInputTests
{
    private const string Outputs = "svid_file_name = \"svid.pem\"\nsvid_key_file_name = \"svid_key.pem\"\nsvid_bundle_file_name = \"bundle.pem\"\n";

    private static ConfigLoadResult Parse(string text) => ConfigLoader.Parse(text, "helper.conf", _ => null, null, "/work");

    [Theory]
    [InlineData("one_shot_timeout = \"99999999999h\"", "one_shot_timeout")]
    [InlineData("one_shot_timeout = \"2000h\"", "one_shot_timeout")]
    [InlineData("cmd_stop_timeout = \"577h\"", "cmd_stop_timeout")]
    [InlineData("cmd_stop_timeout = \"9999999999999999999999999999999999999999s\"", "cmd_stop_timeout")]
    public void Parse_TimeoutOutOfRange_IsAnErrorNamingTheRange(string line, string key)
    {
        var error = Assert.Single(Parse(Outputs + line).Errors);

        Assert.Equal(key, error.Key);
        Assert.Equal(4, error.Line);
        Assert.Contains("is out of range; use a duration from 1ms to 576h (24 days)", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_TimeoutAtTheLimit_IsAccepted()
    {
        var result = Parse(Outputs + "one_shot_timeout = \"576h\"");

        Assert.Equal(TimeSpan.FromHours(576), result.Options!.OneShotTimeout);
    }

    [Theory]
    [InlineData("a = {0}{1}", '[', ']')]
    [InlineData("a = {0}1{1}", '[', ']')]
    [InlineData("a = {0}{1}", '{', '}')]
    public void Parse_TomlNestedDeeperThan64_IsAConfigErrorNotACrash(string template, char open, char close)
    {
        foreach (var depth in new[] { 65, 200_000 })
        {
            var text = Outputs + string.Format(System.Globalization.CultureInfo.InvariantCulture, template, new string(open, depth), new string(close, depth));

            var result = Parse(text);

            Assert.Null(result.Options);
            Assert.Contains(result.Errors, e => e.Line == 4 && e.Reason.Contains("nested more than 64 levels deep", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Parse_HclNestedDeeperThan64_IsAConfigErrorNotACrash()
    {
        var text = "// hcl\n" + Outputs + "a = " + new string('[', 100_000) + new string(']', 100_000);

        var error = Assert.Single(Parse(text).Errors);

        Assert.Equal(5, error.Line);
        Assert.Contains("nested more than 64 levels deep", error.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CmdNamingAMissingBinary_IsAConfigErrorWithTheKeyAndLine()
    {
        var directory = Directory.CreateTempSubdirectory("hcl-config-cmd-");
        try
        {
            var notExecutable = Path.Combine(directory.FullName, "plain.sh");
            File.WriteAllText(notExecutable, "#!/bin/sh\n");
            var file = Path.Combine(directory.FullName, "helper.conf");
            File.WriteAllText(file, Outputs + "cmd = \"/no/such/binary\"\n");
            var environment = (string name) => name == "PATH" ? "/usr/bin:/bin" : null;

            var missing = Assert.Single(ConfigLoader.Load(file, environment, null, directory.FullName).Errors);
            File.WriteAllText(file, Outputs + "cmd = \"no-such-program-xyz\"\n");
            var notInPath = Assert.Single(ConfigLoader.Load(file, environment, null, directory.FullName).Errors);
            File.WriteAllText(file, Outputs + $"cmd = \"{notExecutable}\"\n");
            var plain = Assert.Single(ConfigLoader.Load(file, environment, null, directory.FullName).Errors);
            File.WriteAllText(file, Outputs + "cmd = \"sh\"\ncmd_args = \"-c true\"\n");
            var found = ConfigLoader.Load(file, environment, null, directory.FullName);
            File.WriteAllText(file, Outputs + "cmd = \"/no/such/binary\"\ndaemon_mode = false\n");
            var oneShot = ConfigLoader.Load(file, environment, null, directory.FullName);

            Assert.Equal(("cmd", 4), (missing.Key!, missing.Line!.Value));
            Assert.Contains("\"/no/such/binary\" does not exist", missing.Reason, StringComparison.Ordinal);
            Assert.Contains("not an executable file in any directory of PATH (/usr/bin:/bin)", notInPath.Reason, StringComparison.Ordinal);
            Assert.Contains("is not executable (mode 06", plain.Reason, StringComparison.Ordinal);
            Assert.True(found.Succeeded, string.Join("\n", found.Errors));
            Assert.True(oneShot.Succeeded, string.Join("\n", oneShot.Errors));
            Assert.Contains(oneShot.Warnings, w => w.Key == "cmd" && w.Reason.Contains("one-shot mode", StringComparison.Ordinal));
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
