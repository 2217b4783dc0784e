using Spiffe.Testing;
using SpiffeHelper.Config;

namespace SpiffeHelper.Tests.Config;

public sealed class ExampleFilesTests
{
    private static ConfigLoadResult Load(string name) =>
        ConfigLoader.Parse(File.ReadAllText(Path.Combine(ProcessRunner.RepositoryRoot, name)), name, _ => null, null, "/work");

    [Fact]
    public void Examples_TomlAndHcl_ParseAsTheirSyntaxAndGiveEqualOptions()
    {
        var toml = Load("helper.conf.example");
        var hcl = Load("helper.hcl.example");

        Assert.True(toml.Succeeded, string.Join("\n", toml.Errors));
        Assert.True(hcl.Succeeded, string.Join("\n", hcl.Errors));
        Assert.Equal(ConfigSyntax.Toml, toml.Syntax);
        Assert.Equal(ConfigSyntax.Hcl, hcl.Syntax);
        Assert.Empty(toml.Warnings);
        Assert.Empty(hcl.Warnings);
        var tomlFields = GoCorpusTests.Describe(toml).Where(kv => kv.Key != "syntax").ToList();
        var hclFields = GoCorpusTests.Describe(hcl).Where(kv => kv.Key != "syntax").ToList();
        Assert.Equal(tomlFields, hclFields);
    }
}
