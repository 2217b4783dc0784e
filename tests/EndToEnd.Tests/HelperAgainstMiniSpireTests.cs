using System.Diagnostics;
using Spiffe.Testing;
using EndToEnd.Tests.Support;

namespace EndToEnd.Tests;

/// <summary>
/// The published Native AOT spiffe-helper against a MiniSpire server and agent, all real processes on
/// real sockets, checked with openssl as an operator would.
/// </summary>
public sealed class HelperAgainstMiniSpireTests : IAsyncLifetime
{
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private LocalMiniSpire _stack = null!;
    private string _certs = null!;

    public async Task InitializeAsync()
    {
        _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);
        _certs = Path.Combine(_stack.Root, "certs");
        Directory.CreateDirectory(_certs);
    }

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task DaemonMode_ShortTtl_EveryRotationWritesAChainOpensslVerifiesWithTheMatchingKey()
    {
        // 20 s TTL plus 10 s backdating: the agent rotates roughly every 5 s.
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{Identity.Uid()}", "-x509SVIDTTL", "20");
        var config = await WriteConfigAsync(daemonMode: true);
        using var helper = Processes.StartHelper(config);
        var serials = new List<string>();
        try
        {
            var deadline = DateTime.UtcNow + Timeout;
            while (serials.Count < 3)
            {
                Assert.False(helper.HasExited, "spiffe-helper exited");
                Assert.True(DateTime.UtcNow < deadline, $"saw {serials.Count} SVID(s) in {Timeout}");
                var serial = await SerialAsync();
                if (serial is not null && (serials.Count == 0 || serials[^1] != serial))
                {
                    serials.Add(serial);
                    await AssertFilesConsistentAsync();
                }

                await Task.Delay(200);
            }
        }
        finally
        {
            helper.Kill(entireProcessTree: true);
            await helper.WaitForExitAsync();
        }

        Assert.Equal(3, serials.Distinct().Count());
    }

    [Fact]
    public async Task AgentSigkilledAndRestarted_HelperKeepsItsFilesAndRecoversWithoutRestart()
    {
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{Identity.Uid()}", "-x509SVIDTTL", "20");
        using var helper = Processes.StartHelper(await WriteConfigAsync(daemonMode: true));
        try
        {
            var first = await NextSerialAsync(null, helper);

            await _stack.KillAgentAsync();
            await Task.Delay(TimeSpan.FromSeconds(2));
            await AssertFilesConsistentAsync();
            await _stack.StartAgentAsync();
            await NextSerialAsync(first, helper);

            await AssertFilesConsistentAsync();
        }
        finally
        {
            helper.Kill(entireProcessTree: true);
            await helper.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task ServerSigkilled_FilesStayValidAndRotationResumesWhenItReturns()
    {
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{Identity.Uid()}", "-x509SVIDTTL", "20");
        using var helper = Processes.StartHelper(await WriteConfigAsync(daemonMode: true));
        try
        {
            var first = await NextSerialAsync(null, helper);

            await _stack.KillServerAsync();
            await Task.Delay(TimeSpan.FromSeconds(2));
            await AssertFilesConsistentAsync();
            await _stack.StartServerAsync();
            await NextSerialAsync(first, helper);

            await AssertFilesConsistentAsync();
            var entries = await _stack.ServerCliAsync("entry", "show", "-spiffeID", "spiffe://example.org/web");
            Assert.Contains("spiffe://example.org/web", entries.StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            helper.Kill(entireProcessTree: true);
            await helper.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task OneShot_InitContainerMode_WritesOnceAndExitsZero()
    {
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{Identity.Uid()}");
        var config = await WriteConfigAsync(daemonMode: false);

        var run = await ProcessRunner.RunAsync(PublishedHelperBinary.Get(), ["-config", config], Timeout);

        Assert.True(run.ExitCode == 0, run.ToString());
        await AssertFilesConsistentAsync();
    }

    private async Task AssertFilesConsistentAsync()
    {
        var svid = Path.Combine(_certs, "svid.pem");
        var key = Path.Combine(_certs, "svid_key.pem");
        var bundle = Path.Combine(_certs, "bundle.pem");

        var verify = await ProcessRunner.RunAsync("openssl", ["verify", "-CAfile", bundle, svid], Timeout);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        var san = await ProcessRunner.RunAsync("openssl", ["x509", "-in", svid, "-noout", "-ext", "subjectAltName"], Timeout);
        Assert.Contains("URI:spiffe://example.org/web", san.StandardOutput, StringComparison.Ordinal);
        var certificateKey = await ProcessRunner.RunAsync("openssl", ["x509", "-in", svid, "-noout", "-pubkey"], Timeout);
        var privateKey = await ProcessRunner.RunAsync("openssl", ["pkey", "-in", key, "-pubout"], Timeout);
        Assert.Equal(certificateKey.StandardOutput, privateKey.StandardOutput);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_certs, "..data", "svid_key.pem")));
    }

    /// <summary>Waits until svid.pem holds a certificate other than <paramref name="previous"/>.</summary>
    private async Task<string> NextSerialAsync(string? previous, Process helper)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            Assert.False(helper.HasExited, "spiffe-helper exited");
            var serial = await SerialAsync();
            if (serial is not null && serial != previous)
            {
                return serial;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no new SVID within {Timeout} (still {previous})");
            await Task.Delay(200);
        }
    }

    private async Task<string?> SerialAsync()
    {
        var result = await ProcessRunner.RunAsync("openssl", ["x509", "-in", Path.Combine(_certs, "svid.pem"), "-noout", "-serial"], Timeout);
        return result.ExitCode == 0 ? result.StandardOutput.Trim() : null;
    }

    private async Task<string> WriteConfigAsync(bool daemonMode)
    {
        var path = Path.Combine(_stack.Root, "helper.conf");
        await File.WriteAllTextAsync(path, $"""
            agent_address = "unix://{_stack.AgentSocket}"
            cert_dir = "{_certs}"
            svid_file_name = "svid.pem"
            svid_key_file_name = "svid_key.pem"
            svid_bundle_file_name = "bundle.pem"
            daemon_mode = {(daemonMode ? "true" : "false")}
            one_shot_timeout = "30s"
            """);
        return path;
    }
}
