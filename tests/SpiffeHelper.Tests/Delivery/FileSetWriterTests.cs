using SpiffeHelper.Config;
using SpiffeHelper.Delivery;

namespace SpiffeHelper.Tests.Delivery;

public sealed class FileSetWriterTests : IDisposable
{
    private static readonly UnixFileMode Mode644 = (UnixFileMode)Convert.ToInt32("644", 8);
    private static readonly UnixFileMode Mode600 = (UnixFileMode)Convert.ToInt32("600", 8);
    private static readonly UnixFileMode Mode444 = (UnixFileMode)Convert.ToInt32("444", 8);

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private static FileContent[] Generation(int n, UnixFileMode? certMode = null) =>
    [
        new("svid.pem", Scenario.Utf8($"cert {n}\n"), certMode ?? Mode644, false),
        new("svid_key.pem", Scenario.Utf8($"key {n}\n"), Mode600, true),
        new("bundle.pem", Scenario.Utf8($"bundle {n}\n"), certMode ?? Mode644, false),
    ];

    [Fact]
    public void Write_AtomicDir_VisibleNamesAreSymlinksThroughDataWithExactModes()
    {
        var writer = new FileSetWriter(_dir.Path, WriteStrategy.AtomicDir, TimeProvider.System);

        writer.Write(Generation(1));

        var data = new FileInfo(_dir.Combine("..data"));
        Assert.NotNull(data.LinkTarget);
        Assert.StartsWith("..", data.LinkTarget);
        foreach (var name in new[] { "svid.pem", "svid_key.pem", "bundle.pem" })
        {
            Assert.Equal(Path.Combine("..data", name), new FileInfo(_dir.Combine(name)).LinkTarget);
        }

        Assert.Equal("key 1\n", File.ReadAllText(_dir.Combine("svid_key.pem")));
        Assert.Equal(Mode600, File.GetUnixFileMode(_dir.Combine("svid_key.pem")));
        Assert.Equal(Mode644, File.GetUnixFileMode(_dir.Combine("svid.pem")));
    }

    [Fact]
    public void Write_AtomicDirManyTimes_KeepsOnlyTheCurrentGeneration()
    {
        var writer = new FileSetWriter(_dir.Path, WriteStrategy.AtomicDir, TimeProvider.System);

        for (var n = 1; n <= 4; n++)
        {
            writer.Write(Generation(n));
        }

        var generations = Directory.EnumerateDirectories(_dir.Path, "..*").Where(d => new DirectoryInfo(d).LinkTarget is null).ToList();
        Assert.Single(generations);
        Assert.Equal("cert 4\n", File.ReadAllText(_dir.Combine("svid.pem")));
        Assert.Equal(new[] { "..data", Path.GetFileName(generations[0]), "bundle.pem", "svid.pem", "svid_key.pem" }.Order(StringComparer.Ordinal), Directory.EnumerateFileSystemEntries(_dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("AtomicDir")]
    [InlineData("Rename")]
    public void Write_ReadOnlyModeTwice_SecondWriteStillSucceeds(string strategyName)
    {
        var writer = new FileSetWriter(_dir.Path, Enum.Parse<WriteStrategy>(strategyName), TimeProvider.System);

        writer.Write(Generation(1, Mode444));
        writer.Write(Generation(2, Mode444));

        Assert.Equal("cert 2\n", File.ReadAllText(_dir.Combine("svid.pem")));
        Assert.Equal(Mode444, File.GetUnixFileMode(_dir.Combine("svid.pem")));
    }

    [Fact]
    public void Write_Rename_WritesRegularFilesWithExactModesAndNoTempLeft()
    {
        var writer = new FileSetWriter(_dir.Path, WriteStrategy.Rename, TimeProvider.System);

        writer.Write(Generation(1));
        writer.Write(Generation(2));

        var info = new FileInfo(_dir.Combine("svid_key.pem"));
        Assert.Null(info.LinkTarget);
        Assert.Equal("key 2\n", File.ReadAllText(info.FullName));
        Assert.Equal(Mode600, info.UnixFileMode);
        Assert.Equal(["bundle.pem", "svid.pem", "svid_key.pem"], Directory.EnumerateFileSystemEntries(_dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Write_RenameOverAtomicDirLayout_ReplacesTheSymlinks()
    {
        new FileSetWriter(_dir.Path, WriteStrategy.AtomicDir, TimeProvider.System).Write(Generation(1));

        new FileSetWriter(_dir.Path, WriteStrategy.Rename, TimeProvider.System).Write(Generation(2));

        Assert.Null(new FileInfo(_dir.Combine("svid.pem")).LinkTarget);
        Assert.Equal("cert 2\n", File.ReadAllText(_dir.Combine("svid.pem")));
    }

    [Fact]
    public void Write_AtomicDirOverRegularFiles_ReplacesThemWithSymlinks()
    {
        new FileSetWriter(_dir.Path, WriteStrategy.Rename, TimeProvider.System).Write(Generation(1));

        new FileSetWriter(_dir.Path, WriteStrategy.AtomicDir, TimeProvider.System).Write(Generation(2));

        Assert.NotNull(new FileInfo(_dir.Combine("svid.pem")).LinkTarget);
        Assert.Equal("key 2\n", File.ReadAllText(_dir.Combine("svid_key.pem")));
    }

    [Theory]
    [InlineData("AtomicDir")]
    [InlineData("Rename")]
    public void Write_DirectoryNotWritable_ThrowsAndKeepsThePreviousFiles(string strategyName)
    {
        var writer = new FileSetWriter(_dir.Path, Enum.Parse<WriteStrategy>(strategyName), TimeProvider.System);
        writer.Write(Generation(1));
        Posix.SetImmutable(_dir.Path, true);
        try
        {
            Assert.ThrowsAny<Exception>(() => writer.Write(Generation(2)));

            Assert.Equal("cert 1\n", File.ReadAllText(_dir.Combine("svid.pem")));
            Assert.Equal("key 1\n", File.ReadAllText(_dir.Combine("svid_key.pem")));
            Assert.Equal("bundle 1\n", File.ReadAllText(_dir.Combine("bundle.pem")));
        }
        finally
        {
            Posix.SetImmutable(_dir.Path, false);
        }

        writer.Write(Generation(3));
        Assert.Equal("cert 3\n", File.ReadAllText(_dir.Combine("svid.pem")));
    }
}
