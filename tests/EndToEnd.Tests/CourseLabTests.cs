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

    // The agent at DEBUG, as the quickstart's: lab 4 reads the selectors it logs for each caller.
    public async Task InitializeAsync() => _stack = await LocalMiniSpire.StartAsync(MiniSpireDll, agentLogLevel: "DEBUG");

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
    /// Lab 3 as examples/labs/README.md writes it (its shell blocks, run as they are): nginx started by the helper
    /// serves an SVID with the entry's DNS SAN, a curl loop gets 200 through the rotations, nginx keeps its pid.
    /// </summary>
    [Fact]
    public async Task Lab3_FromTheReadme_NginxServesThroughRotationsWithoutRestart()
    {
        var run = await LabReadme.RunAsync(_stack, "Lab 3", TimeSpan.FromMinutes(4));

        Assert.True(run.ExitCode == 0, run.ToString());
        var samples = System.Text.RegularExpressions.Regex.Matches(run.StandardOutput, @"(?m)^\d\d:\d\d:\d\d (\d{3}) serial=([0-9A-F]+)$");
        Assert.True(samples.Count >= 75, $"{samples.Count} samples\n{run}");
        Assert.All(samples, m => Assert.Equal("200", m.Groups[1].Value));
        var serials = samples.Select(m => m.Groups[2].Value).Distinct().ToList();
        Assert.True(serials.Count >= 2, $"no rotation while serving: {string.Join(", ", serials)}\n{run}");
        var pids = System.Text.RegularExpressions.Regex.Match(run.StandardOutput, @"nginx pid before: (\d+), after: (\d+)");
        Assert.True(pids.Success, run.ToString());
        Assert.Equal(pids.Groups[1].Value, pids.Groups[2].Value);
    }

    /// <summary>
    /// Lab 4 as examples/labs/README.md writes it: the SPIRE way first (the agent's DEBUG log of the caller's
    /// selectors, <c>entry show -selector</c>, <c>api fetch</c> as the workload's user), the fix with SPIRE's
    /// whole-entry <c>entry update</c>, the running helper recovering, then MiniSpire's <c>agent attest</c>.
    /// </summary>
    [Fact]
    public async Task Lab4_FromTheReadme_SpireWayFindsTheTypo_EntryUpdateFixesIt_HelperRecoversWithoutRestart()
    {
        var run = await LabReadme.RunAsync(_stack, "Lab 4", TimeSpan.FromMinutes(3));
        var output = run.StandardOutput;

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("PermissionDenied", output, StringComparison.Ordinal);
        Assert.Matches(@"PID attested to have selectors: pid \d+, selectors \[[^\]]*unix:user:daemon", output);
        Assert.Contains("Found 0 entries", output, StringComparison.Ordinal);
        Assert.Contains("Selector         : unix:user:deamon", output, StringComparison.Ordinal);
        Assert.Contains("exit code 1", output, StringComparison.Ordinal);
        Assert.Contains("Selector         : unix:user:daemon", output, StringComparison.Ordinal);
        Assert.Matches(@"Matching entries:\s+\S+  spiffe://example.org/misconfigured", output);
        Assert.Contains("PermissionDenied", run.StandardError + output, StringComparison.Ordinal);
    }

    private static DateTimeOffset ParseOpensslDate(string notAfter) =>
        DateTimeOffset.ParseExact(
            System.Text.RegularExpressions.Regex.Replace(notAfter.Replace(" GMT", string.Empty, StringComparison.Ordinal), " +", " "),
            "MMM d HH:mm:ss yyyy",
            System.Globalization.CultureInfo.InvariantCulture,
            System.Globalization.DateTimeStyles.AssumeUniversal);
}
