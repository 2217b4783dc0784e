using System.Net.Sockets;
using EndToEnd.Tests.Support;
using Spiffe.Testing;

namespace EndToEnd.Tests;

/// <summary>
/// Faults under a running AOT helper against MiniSpire processes, each ending with nothing lost: the files
/// on disk stay as they were (and valid) while the fault lasts, the health endpoint says not ready, and the
/// helper recovers by itself once the fault is gone.
/// </summary>
public sealed class FaultTests : IAsyncLifetime
{
    private const string Id = "spiffe://example.org/web";
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private LocalMiniSpire _stack = null!;
    private string _certs = null!;

    public async Task InitializeAsync()
    {
        _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);
        _certs = Path.Combine(_stack.Root, "certs");
    }

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task CertDirBecomesReadOnly_OldFilesIntactAndNotReady_RecoversWhenWritableAgain()
    {
        await _stack.CreateEntryAsync(Id, "-selector", $"unix:uid:{Identity.Uid()}", "-x509SVIDTTL", "20");
        await using var helper = await HelperRun.StartAsync(_stack.Root, _stack.AgentSocket, _certs);
        await WaitReadyAsync(helper);
        var before = Snapshot();

        // Root ignores permissions; an immutable directory refuses every new entry, even to root.
        await Chattr("+i");
        try
        {
            await Eventually.HoldsAsync(
                async () => await helper.ReadinessAsync() is (503, var body) && body.Contains("write_failed", StringComparison.Ordinal),
                Timeout,
                () => $"readiness {helper.ReadinessAsync().Result}\n{helper.Output}");

            // The rotation that could not be written left the previous set exactly as it was.
            Assert.Equal(before, Snapshot());
            await Openssl.AssertChainAndKeyAsync(_certs, Id);
            Assert.Contains("Could not write the files", helper.Output, StringComparison.Ordinal);
        }
        finally
        {
            await Chattr("-i");
        }

        await WaitReadyAsync(helper);
        Assert.NotEqual(before["svid.pem"], Snapshot()["svid.pem"]);
        await Openssl.AssertChainAndKeyAsync(_certs, Id);
        Assert.False(helper.HasExited);
    }

    [Fact]
    public async Task WorkloadDeregisteredMidStream_FilesKeptAndNotReady_ReRegisteredRecoversWithoutRestart()
    {
        // Default TTL (1 h): nothing rotates on its own, so any change to the files comes from the fault.
        var entryId = await _stack.CreateEntryAsync(Id, "-selector", $"unix:uid:{Identity.Uid()}");
        await using var helper = await HelperRun.StartAsync(_stack.Root, _stack.AgentSocket, _certs);
        await WaitReadyAsync(helper);
        var before = Snapshot();

        var deleted = await _stack.ServerCliAsync("entry", "delete", "-entryID", entryId);
        Assert.True(deleted.ExitCode == 0, deleted.ToString());
        await Eventually.HoldsAsync(
            async () => await helper.ReadinessAsync() is (503, var body) && body.Contains("PermissionDenied", StringComparison.Ordinal),
            Timeout,
            () => $"readiness {helper.ReadinessAsync().Result}\n{helper.Output}");
        Assert.Contains("PermissionDenied", helper.Output, StringComparison.Ordinal);

        // The identity is gone from the agent, not from the disk: the last files stay, untouched and valid.
        Assert.Equal(before, Snapshot());
        await Openssl.AssertChainAndKeyAsync(_certs, Id);

        await _stack.CreateEntryAsync(Id, "-selector", $"unix:uid:{Identity.Uid()}");
        await WaitReadyAsync(helper);
        Assert.NotEqual(before["svid.pem"], Snapshot()["svid.pem"]);
        await Openssl.AssertChainAndKeyAsync(_certs, Id);
        Assert.False(helper.HasExited);
    }

    [Fact]
    public async Task ConfigWithErrors_ExitsTwoNamingFileLineAndKeys_WritesNothingAndNeverConnects()
    {
        // A real listening socket as agent_address: any connection attempt would be accepted and seen.
        var socketPath = Path.Combine(_stack.Root, "watched.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(socketPath));
        listener.Listen();
        var accepted = listener.AcceptAsync();

        var certDir = Path.Combine(_stack.Root, "never-created");
        var config = Path.Combine(_stack.Root, "bad.conf");
        await File.WriteAllTextAsync(config, $"""
            agent_address = "unix://{socketPath}"
            cert_dir = "{certDir}"
            svid_file_name = "svid.pem"
            svid_key_file_name = "svid_key.pem"
            svid_bundle_file_name = "bundle.pem"
            write_strategy = "sideways"
            renew_signl = "SIGHUP"
            """);

        var run = await ProcessRunner.RunAsync(PublishedHelperBinary.Get(), ["-config", config], Timeout);

        Assert.True(run.ExitCode == 2, run.ToString());
        // Every error at once, each with the file, its line and the key.
        Assert.Contains($"{config}:6", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("write_strategy", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("atomic_dir", run.StandardError, StringComparison.Ordinal);
        Assert.Contains($"{config}:7", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("renew_signl", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("nothing was started", run.StandardError, StringComparison.Ordinal);
        Assert.False(Directory.Exists(certDir), "cert_dir was created");
        await Task.Delay(500);
        Assert.False(accepted.IsCompleted, "the helper connected to agent_address");
    }

    private async Task WaitReadyAsync(HelperRun helper) =>
        await Eventually.HoldsAsync(
            async () => (await helper.ReadinessAsync()).Status == 200,
            Timeout,
            () => $"readiness {helper.ReadinessAsync().Result}\n{helper.Output}\n{_stack.Output}");

    /// <summary>Every file name in cert_dir (hidden generations included) with the bytes read through it.</summary>
    private Dictionary<string, string> Snapshot() =>
        Directory.EnumerateFileSystemEntries(_certs, "*", SearchOption.AllDirectories)
            .Where(File.Exists)
            .ToDictionary(p => Path.GetRelativePath(_certs, p), p => Convert.ToBase64String(File.ReadAllBytes(p)), StringComparer.Ordinal);

    private async Task Chattr(string flag)
    {
        var result = await ProcessRunner.RunAsync("chattr", [flag, _certs], Timeout);
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}
