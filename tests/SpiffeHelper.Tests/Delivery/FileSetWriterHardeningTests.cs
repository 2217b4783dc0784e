using SpiffeHelper.Config;
using SpiffeHelper.Delivery;

namespace SpiffeHelper.Tests.Delivery;

/// <summary>The writer against a cert_dir someone else has tampered with or left half-written: real links, real leftovers.</summary>
public sealed class FileSetWriterHardeningTests : IDisposable
{
    private static readonly UnixFileMode Mode644 = (UnixFileMode)Convert.ToInt32("644", 8);
    private static readonly UnixFileMode Mode600 = (UnixFileMode)Convert.ToInt32("600", 8);
    private static readonly UnixFileMode Mode755 = (UnixFileMode)Convert.ToInt32("755", 8);

    private readonly TempDir _dir = new();
    private readonly TempDir _outside = new();

    public void Dispose()
    {
        _dir.Dispose();
        _outside.Dispose();
    }

    private string CertDir => _dir.Combine("certs");

    private static FileContent[] Generation(int n, params string[] trustDomains) =>
    [
        new("svid.pem", Scenario.Utf8($"cert {n}\n"), Mode644, false),
        new("svid_key.pem", Scenario.Utf8($"key {n}\n"), Mode600, true),
        new("bundle.pem", Scenario.Utf8($"bundle {n}\n"), Mode644, false),
        .. trustDomains.Select(td => new FileContent($"bundles/{td}.pem", Scenario.Utf8($"{td} {n}\n"), Mode644, false)),
    ];

    private string PlantVictim()
    {
        var victim = _outside.Combine("victim.txt");
        File.WriteAllText(victim, "not the helper's\n");
        return victim;
    }

    [Fact]
    public void Write_RenameBundlesFolderIsASymlinkOutside_RefusesAndTheVictimSurvives()
    {
        var victim = PlantVictim();
        Directory.CreateDirectory(CertDir);
        File.CreateSymbolicLink(Path.Combine(CertDir, "bundles"), _outside.Path);
        var writer = new FileSetWriter(CertDir, WriteStrategy.Rename, TimeProvider.System);

        var problems = writer.CheckLayout(["svid.pem", "svid_key.pem", "bundle.pem"], ["bundles"]);
        var error = Assert.Throws<IOException>(() => writer.Write(Generation(1, "example.org")));

        Assert.Contains($"\"{Path.Combine(CertDir, "bundles")}\" is a symbolic link to \"{_outside.Path}\"", Assert.Single(problems));
        Assert.Contains("did not create", error.Message);
        Assert.Equal("not the helper's\n", File.ReadAllText(victim));
        Assert.Equal(["victim.txt"], Directory.EnumerateFileSystemEntries(_outside.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void Write_RenameBundlesFolderReplacedByASymlinkBetweenWrites_RefusesAndTheVictimSurvives()
    {
        var writer = new FileSetWriter(CertDir, WriteStrategy.Rename, TimeProvider.System);
        writer.Write(Generation(1, "example.org", "other.org"));
        var victim = PlantVictim();
        Directory.Delete(Path.Combine(CertDir, "bundles"), recursive: true);
        File.CreateSymbolicLink(Path.Combine(CertDir, "bundles"), _outside.Path);

        Assert.Throws<IOException>(() => writer.Write(Generation(2, "example.org")));

        Assert.Equal("not the helper's\n", File.ReadAllText(victim));
        Assert.Equal(["victim.txt"], Directory.EnumerateFileSystemEntries(_outside.Path).Select(Path.GetFileName));
        Assert.Equal("cert 1\n", File.ReadAllText(Path.Combine(CertDir, "svid.pem")));
    }

    [Fact]
    public void Write_VisibleFileNameIsASymlinkOutside_ReplacesTheLinkNotTheTarget()
    {
        var victim = PlantVictim();
        Directory.CreateDirectory(CertDir);
        File.CreateSymbolicLink(Path.Combine(CertDir, "svid_key.pem"), victim);

        new FileSetWriter(CertDir, WriteStrategy.Rename, TimeProvider.System).Write(Generation(1));

        Assert.Equal("not the helper's\n", File.ReadAllText(victim));
        Assert.Null(new FileInfo(Path.Combine(CertDir, "svid_key.pem")).LinkTarget);
        Assert.Equal("key 1\n", File.ReadAllText(Path.Combine(CertDir, "svid_key.pem")));
    }

    [Fact]
    public void Write_AtomicDirThenRename_TheHelpersOwnBundlesLinkBecomesARealFolder()
    {
        new FileSetWriter(CertDir, WriteStrategy.AtomicDir, TimeProvider.System).Write(Generation(1, "example.org"));
        Assert.Equal(Path.Combine("..data", "bundles"), new FileInfo(Path.Combine(CertDir, "bundles")).LinkTarget);
        var rename = new FileSetWriter(CertDir, WriteStrategy.Rename, TimeProvider.System);

        Assert.Empty(rename.CheckLayout(["svid.pem"], ["bundles"]));
        rename.Write(Generation(2, "example.org"));

        Assert.Null(new FileInfo(Path.Combine(CertDir, "bundles")).LinkTarget);
        Assert.Equal("example.org 2\n", File.ReadAllText(Path.Combine(CertDir, "bundles", "example.org.pem")));
    }

    [Fact]
    public void Write_RenameThenAtomicDirWithBundlesFolder_ConvertsTheLayoutAndLeavesOneGeneration()
    {
        new FileSetWriter(CertDir, WriteStrategy.Rename, TimeProvider.System).Write(Generation(1, "example.org", "other.org"));
        var atomic = new FileSetWriter(CertDir, WriteStrategy.AtomicDir, TimeProvider.System);

        Assert.Empty(atomic.CheckLayout(["svid.pem", "svid_key.pem", "bundle.pem"], ["bundles"]));
        atomic.Write(Generation(2, "example.org"));
        atomic.Write(Generation(3, "example.org"));

        Assert.Equal(Path.Combine("..data", "bundles"), new FileInfo(Path.Combine(CertDir, "bundles")).LinkTarget);
        Assert.Equal("example.org 3\n", File.ReadAllText(Path.Combine(CertDir, "bundles", "example.org.pem")));
        Assert.False(File.Exists(Path.Combine(CertDir, "bundles", "other.org.pem")));
        Assert.Single(Directory.EnumerateDirectories(CertDir, "..*"), d => new DirectoryInfo(d).LinkTarget is null);
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(CertDir), e => e.EndsWith(".link_tmp", StringComparison.Ordinal) || e.Contains(".tmp-", StringComparison.Ordinal));
    }

    [Fact]
    public void CheckLayout_AtomicDirOverABundlesFolderWithForeignFiles_NamesThePathAndTheFile()
    {
        new FileSetWriter(CertDir, WriteStrategy.Rename, TimeProvider.System).Write(Generation(1, "example.org"));
        File.WriteAllText(Path.Combine(CertDir, "bundles", "README"), "operator notes\n");
        var atomic = new FileSetWriter(CertDir, WriteStrategy.AtomicDir, TimeProvider.System);

        var problem = Assert.Single(atomic.CheckLayout(["svid.pem"], ["bundles"]));

        Assert.Contains($"\"{Path.Combine(CertDir, "bundles")}\" is a directory holding \"{Path.Combine(CertDir, "bundles", "README")}\"", problem);
        Assert.Contains("write_strategy = \"rename\"", problem);
    }

    [Fact]
    public void Write_CreatesEveryDirectoryWithMode0755Exactly()
    {
        // The umask is process-wide, so the real umask 000 and 077 runs are the published binary's (PublishedBinaryHardeningTests).
        var nested = Path.Combine(CertDir, "deeper");
        var writer = new FileSetWriter(nested, WriteStrategy.AtomicDir, TimeProvider.System);

        writer.Write(Generation(1, "example.org"));

        Assert.Equal(Mode755, File.GetUnixFileMode(CertDir));
        Assert.Equal(Mode755, File.GetUnixFileMode(nested));
        var generation = Path.Combine(nested, new FileInfo(Path.Combine(nested, "..data")).LinkTarget!);
        Assert.Equal(Mode755, File.GetUnixFileMode(generation));
        Assert.Equal(Mode755, File.GetUnixFileMode(Path.Combine(generation, "bundles")));
    }

    [Theory]
    [InlineData("Rename")]
    [InlineData("AtomicDir")]
    public void RemoveLeftovers_TempFilesOfAKilledRun_AreRemovedAndNothingElse(string strategyName)
    {
        var writer = new FileSetWriter(CertDir, Enum.Parse<WriteStrategy>(strategyName), TimeProvider.System);
        writer.Write(Generation(1, "example.org"));
        string[] leftovers =
        [
            Path.Combine(CertDir, ".svid_key.pem.tmp-0a1b2c3d"),
            Path.Combine(CertDir, ".svid.pem.tmp-ffffffff"),
            Path.Combine(CertDir, "bundles", ".example.org.pem.tmp-12345678"),
        ];
        foreach (var leftover in leftovers)
        {
            var folder = Path.GetDirectoryName(leftover)!;
            if (new FileInfo(folder).LinkTarget is null)
            {
                File.WriteAllText(leftover, "-----BEGIN PRIVATE KEY-----\n");
            }
        }

        string[] others = [Path.Combine(CertDir, ".svid.pem.tmp-notours"), Path.Combine(CertDir, "app.conf")];
        foreach (var other in others)
        {
            File.WriteAllText(other, "keep\n");
        }

        var removed = new FileSetWriter(CertDir, Enum.Parse<WriteStrategy>(strategyName), TimeProvider.System).RemoveLeftovers();

        Assert.All(leftovers, l => Assert.False(File.Exists(l) && new FileInfo(Path.GetDirectoryName(l)!).LinkTarget is null, l));
        Assert.All(others, o => Assert.True(File.Exists(o), o));
        Assert.Contains(leftovers[0], removed);
        Assert.Equal("key 1\n", File.ReadAllText(Path.Combine(CertDir, "svid_key.pem")));
    }
}
