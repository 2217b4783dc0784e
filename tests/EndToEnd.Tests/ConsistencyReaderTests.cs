using EndToEnd.Tests.Support;
using Spiffe.Testing;
using Xunit.Abstractions;

namespace EndToEnd.Tests;

/// <summary>
/// A separate process (tests/ConsistencyReader) reads the certificate and key every millisecond or so while
/// the helper rotates them, once per write strategy, against the same SVIDs (one workload, two helpers).
/// What is checked is what each strategy promises (helper.conf.example, FileSetWriter):
/// <c>atomic_dir</c> switches cert, key and bundle with one rename, so a reader that sees one generation
/// (the <c>..data</c> link unchanged across its read) always gets a parsing, matching pair; <c>rename</c>
/// replaces each file whole but one after the other, so every file always parses while a pair read across
/// the switch may mismatch (counted, not failed).
/// </summary>
public sealed class ConsistencyReaderTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly string ReaderDll = Path.Combine(AppContext.BaseDirectory, "ConsistencyReader.dll");
    private const int ReadSeconds = 30;

    private LocalMiniSpire _stack = null!;

    public async Task InitializeAsync() => _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task ReadersDuringRotations_AtomicDirNeverShowsAMismatchedPair_RenameNeverShowsATornFile()
    {
        // 20 s TTL: a rotation every ~5 s, so about six during the 30 s of reading.
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{Identity.Uid()}", "-x509SVIDTTL", "20");
        var atomicCerts = Path.Combine(_stack.Root, "atomic");
        var renameCerts = Path.Combine(_stack.Root, "rename");
        var atomicHome = Directory.CreateDirectory(Path.Combine(_stack.Root, "atomic-helper")).FullName;
        var renameHome = Directory.CreateDirectory(Path.Combine(_stack.Root, "rename-helper")).FullName;
        await using var atomicHelper = await HelperRun.StartAsync(atomicHome, _stack.AgentSocket, atomicCerts, "write_strategy = \"atomic_dir\"");
        await using var renameHelper = await HelperRun.StartAsync(renameHome, _stack.AgentSocket, renameCerts, "write_strategy = \"rename\"");
        await Eventually.HoldsAsync(
            async () => await Openssl.FactsAsync(Path.Combine(atomicCerts, "svid.pem")) is not null && await Openssl.FactsAsync(Path.Combine(renameCerts, "svid.pem")) is not null,
            TimeSpan.FromSeconds(60),
            () => atomicHelper.Output + renameHelper.Output);

        var atomicReader = ReadAsync(atomicCerts, "pair");
        var renameReader = ReadAsync(renameCerts, "each");
        var atomic = await atomicReader;
        var rename = await renameReader;
        output.WriteLine($"atomic_dir: {atomic}");
        output.WriteLine($"rename: {rename}");

        Assert.True(atomic.ExitCode == 0, $"atomic_dir reader: {atomic}\nhelper:\n{atomicHelper.Output}");
        Assert.True(rename.ExitCode == 0, $"rename reader: {rename}\nhelper:\n{renameHelper.Output}");
        foreach (var (name, result) in new[] { ("atomic_dir", atomic), ("rename", rename) })
        {
            var summary = Summary(result.StandardOutput);
            Assert.Equal(0, summary["failures"]);
            Assert.True(summary["reads"] >= 1000, $"{name}: only {summary["reads"]} reads");

            // The first certificate and at least three rotations were read.
            Assert.True(summary["certificates"] >= 4, $"{name}: the reader saw {summary["certificates"]} certificate(s)");
        }

        Assert.False(atomicHelper.HasExited || renameHelper.HasExited, "a helper exited");
    }

    private static Task<ProcessResult> ReadAsync(string certDir, string mode) =>
        ProcessRunner.RunAsync("dotnet", [ReaderDll, certDir, "svid.pem", "svid_key.pem", mode, ReadSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(ReadSeconds + 60));

    private static Dictionary<string, long> Summary(string readerOutput) =>
        readerOutput.Trim().Split(' ')
            .Select(pair => pair.Split('=', 2))
            .Where(pair => pair.Length == 2 && long.TryParse(pair[1], out _))
            .ToDictionary(pair => pair[0], pair => long.Parse(pair[1], System.Globalization.CultureInfo.InvariantCulture), StringComparer.Ordinal);
}
