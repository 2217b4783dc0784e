using EndToEnd.Tests.Support;
using Spiffe.Testing;

namespace EndToEnd.Tests;

/// <summary>
/// The course module's labs (/work/shared/seed, "Hands-On Labs" 2-4) on MiniSpire processes and the AOT
/// helper instead of Kubernetes; examples/labs/README.md walks through the same steps by hand.
/// </summary>
public sealed class CourseLabTests : IAsyncLifetime
{
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private LocalMiniSpire _stack = null!;

    public async Task InitializeAsync() => _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    /// <summary>Lab 2: register a workload (here: whatever runs as user nobody); it receives its X.509-SVID.</summary>
    [Fact]
    public async Task Lab2_RegisteredWorkload_ReceivesItsX509Svid()
    {
        const string id = "spiffe://example.org/demo-app";
        await _stack.CreateEntryAsync(id, "-selector", "unix:user:nobody");
        var shown = await _stack.ServerCliAsync("entry", "show", "-spiffeID", id);
        Assert.Contains("unix:user:nobody", shown.StandardOutput, StringComparison.Ordinal);

        var home = Directory.CreateDirectory(Path.Combine(_stack.Root, "demo-app")).FullName;
        var certs = Directory.CreateDirectory(Path.Combine(home, "certs")).FullName;
        Identity.GiveTo(certs, "nobody");
        var config = Path.Combine(home, "helper.conf");
        await File.WriteAllTextAsync(config, $"""
            agent_address = "unix://{_stack.AgentSocket}"
            cert_dir = "{certs}"
            svid_file_name = "svid.pem"
            svid_key_file_name = "svid_key.pem"
            svid_bundle_file_name = "bundle.pem"
            daemon_mode = false
            one_shot_timeout = "30s"
            """);

        var run = await ProcessRunner.RunAsync("runuser", ["-u", "nobody", "--", PublishedHelperBinary.Get(), "-config", config], Timeout);

        Assert.True(run.ExitCode == 0, run.ToString());
        await Openssl.AssertChainAndKeyAsync(certs, id);
        var key = new FileInfo(Path.Combine(certs, "svid_key.pem")).ResolveLinkTarget(returnFinalTarget: true)!.FullName;
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(key));
    }

    /// <summary>
    /// Lab 3: a short TTL; each SVID is replaced well before it expires, and the application (started by the
    /// helper as <c>cmd</c>) is told with SIGHUP and keeps running: it is never restarted. NginxMutualTlsTests
    /// shows a real server serving through the rotations.
    /// </summary>
    [Fact]
    public async Task Lab3_ShortTtl_RotatesBeforeExpiry_AndTheAppKeepsRunningWithoutRestart()
    {
        const string id = "spiffe://example.org/rotating-app";
        await _stack.CreateEntryAsync(id, "-selector", $"unix:uid:{Identity.Uid()}", "-x509SVIDTTL", "20");
        var certs = Path.Combine(_stack.Root, "certs");
        var starts = Path.Combine(_stack.Root, "app-starts");
        var reloads = Path.Combine(_stack.Root, "app-reloads");
        var app = Path.Combine(_stack.Root, "app.sh");
        await File.WriteAllTextAsync(app, $"""
            #!/bin/bash
            # A stand-in application: notes each start, and each reload it is asked for.
            echo $$ >> '{starts}'
            trap 'echo reload >> "{reloads}"' HUP
            while true; do sleep 0.1; done
            """);
        await using var helper = await HelperRun.StartAsync(_stack.Root, _stack.AgentSocket, certs, $"""
            cmd = "/bin/bash"
            cmd_args = "{app}"
            renew_signal = "SIGHUP"
            """);

        var svid = Path.Combine(certs, "svid.pem");
        var seen = new List<(CertificateFacts Facts, DateTimeOffset SeenAt)>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (seen.Count < 4)
        {
            Assert.True(DateTime.UtcNow < deadline, $"saw {seen.Count} SVID(s)\n{helper.Output}");
            Assert.False(helper.HasExited, helper.Output);
            var facts = await Openssl.FactsAsync(svid);
            if (facts is not null && (seen.Count == 0 || seen[^1].Facts.Serial != facts.Serial))
            {
                seen.Add((facts, DateTimeOffset.UtcNow));
                await Openssl.AssertChainAndKeyAsync(certs, id);
            }

            await Task.Delay(200);
        }

        // Every replacement came while the previous SVID was still valid: rotation before expiry.
        for (var i = 1; i < seen.Count; i++)
        {
            var previousNotAfter = ParseOpensslDate(seen[i - 1].Facts.NotAfter);
            Assert.True(seen[i].SeenAt < previousNotAfter, $"SVID {i} appeared at {seen[i].SeenAt:O}, after its predecessor expired at {previousNotAfter:O}");
        }

        // Started once, reloaded at (almost) every rotation; the last signal may still be on its way.
        await Eventually.HoldsAsync(
            () => Task.FromResult(File.Exists(reloads) && File.ReadAllLines(reloads).Length >= 2),
            TimeSpan.FromSeconds(10),
            () => helper.Output);
        Assert.Single(File.ReadAllLines(starts));
    }

    /// <summary>
    /// Lab 4: a wrong selector. The helper reports PermissionDenied and is not ready; the agent's log and
    /// <c>minispire agent attest</c> name the selector the process lacks; fixing the entry lets the running
    /// helper get its SVID by itself, without a restart.
    /// </summary>
    [Fact]
    public async Task Lab4_WrongSelector_PermissionDeniedAndNotReady_AgentNamesTheMissingSelector_FixingTheEntryRecovers()
    {
        const string id = "spiffe://example.org/misconfigured";
        var uid = Identity.Uid();
        var wrongUid = (int.Parse(uid, System.Globalization.CultureInfo.InvariantCulture) + 4242).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var entryId = await _stack.CreateEntryAsync(id, "-selector", $"unix:uid:{wrongUid}");
        var certs = Path.Combine(_stack.Root, "certs");
        await using var helper = await HelperRun.StartAsync(_stack.Root, _stack.AgentSocket, certs);

        await Eventually.HoldsAsync(
            async () => await helper.ReadinessAsync() is (503, var body) && body.Contains("PermissionDenied", StringComparison.Ordinal),
            Timeout,
            () => $"readiness {helper.ReadinessAsync().Result}\n{helper.Output}");
        Assert.Contains("PermissionDenied", helper.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(certs, "svid.pem")));

        // The agent's log names the caller's selectors and what the nearest entry lacks.
        await Eventually.HoldsAsync(
            () => Task.FromResult(_stack.Output.Contains($"lacks unix:uid:{wrongUid}", StringComparison.Ordinal)),
            Timeout,
            () => _stack.Output);
        Assert.Contains("No registration entry matches the caller", _stack.Output, StringComparison.Ordinal);

        var attest = await _stack.MiniSpireAsync("agent", "attest", "-pid", helper.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), "-socketPath", _stack.AgentAdminSocket);
        Assert.True(attest.ExitCode == 0, attest.ToString());
        Assert.Contains($"unix:uid:{uid}", attest.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("Matching entries: none", attest.StandardOutput, StringComparison.Ordinal);
        Assert.Contains($"{entryId}  {id}  missing: unix:uid:{wrongUid}", attest.StandardOutput, StringComparison.Ordinal);

        var fixedEntry = await _stack.ServerCliAsync("entry", "update", "-entryID", entryId, "-selector", $"unix:uid:{uid}");
        Assert.True(fixedEntry.ExitCode == 0, fixedEntry.ToString());

        await Eventually.HoldsAsync(
            async () => (await helper.ReadinessAsync()).Status == 200,
            Timeout,
            () => $"readiness {helper.ReadinessAsync().Result}\n{helper.Output}");
        await Openssl.AssertChainAndKeyAsync(certs, id);
        Assert.False(helper.HasExited, "the helper was meant to recover without a restart");
    }

    private static DateTimeOffset ParseOpensslDate(string notAfter) =>
        DateTimeOffset.ParseExact(
            System.Text.RegularExpressions.Regex.Replace(notAfter.Replace(" GMT", string.Empty, StringComparison.Ordinal), " +", " "),
            "MMM d HH:mm:ss yyyy",
            System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal);
}
