using SpiffeHelper.Config;

namespace SpiffeHelper.Tests.Config;

public sealed class WriteStrategyChoiceTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("hcl-strategy-");

    public void Dispose() => _dir.Delete(recursive: true);

    private HelperOptions Options(string? strategy)
    {
        var text = $"cert_dir = \"{_dir.FullName}\"\nsvid_file_name = \"svid.pem\"\nsvid_key_file_name = \"svid_key.pem\"\nsvid_bundle_file_name = \"bundle.pem\"\n"
            + (strategy is null ? string.Empty : $"write_strategy = \"{strategy}\"\n");
        var result = ConfigLoader.Parse(text, "helper.conf", _ => null, null, "/");
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        return result.Options!;
    }

    [Fact]
    public void Decide_EmptyOrMissingCertDir_KeepsAtomicDir()
    {
        var choice = WriteStrategyChoice.Decide(Options(null));

        Assert.Equal(WriteStrategy.AtomicDir, choice.Strategy);
        Assert.Null(choice.Reason);
    }

    [Fact]
    public void Decide_UnsetWithForeignFiles_ChoosesRenameAndSaysWhy()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "ibdata1"), "db");

        var choice = WriteStrategyChoice.Decide(Options(null));

        Assert.Equal(WriteStrategy.Rename, choice.Strategy);
        Assert.False(choice.IsWarning);
        Assert.Contains("holds \"ibdata1\", which the helper did not write: using \"rename\"", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_UnsetWithOutputsAsRegularFiles_KeepsRename()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "svid.pem"), "old");

        var choice = WriteStrategyChoice.Decide(Options(null));

        Assert.Equal(WriteStrategy.Rename, choice.Strategy);
        Assert.Contains("\"svid.pem\" as a regular file", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Decide_UnsetWithAnEarlierAtomicDirLayout_KeepsAtomicDir()
    {
        var generation = Directory.CreateDirectory(Path.Combine(_dir.FullName, "..2026_12_03"));
        File.WriteAllText(Path.Combine(generation.FullName, "svid.pem"), "x");
        File.CreateSymbolicLink(Path.Combine(_dir.FullName, "..data"), generation.Name);
        File.CreateSymbolicLink(Path.Combine(_dir.FullName, "svid.pem"), "..data/svid.pem");

        var choice = WriteStrategyChoice.Decide(Options(null));

        Assert.Equal(WriteStrategy.AtomicDir, choice.Strategy);
        Assert.Null(choice.Reason);
    }

    [Fact]
    public void Decide_ExplicitAtomicDirWithForeignFiles_IsKeptWithAWarning()
    {
        File.WriteAllText(Path.Combine(_dir.FullName, "my.cnf"), "x");

        var choice = WriteStrategyChoice.Decide(Options("atomic_dir"));

        Assert.Equal(WriteStrategy.AtomicDir, choice.Strategy);
        Assert.True(choice.IsWarning);
        Assert.Contains("also holds \"my.cnf\"", choice.Reason, StringComparison.Ordinal);
    }
}
