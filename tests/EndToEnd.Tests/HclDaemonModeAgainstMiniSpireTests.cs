using System.Globalization;
using System.Text.Json;
using EndToEnd.Tests.Support;
using Spiffe.Testing;

namespace EndToEnd.Tests;

/// <summary>
/// A Go user's daemon-mode helper.conf, in the Go tool's HCL (a <c>health_checks { }</c> block, a multi-line
/// <c>jwt_svids</c> list, <c>cmd</c>/<c>cmd_args</c> with shell quoting and <c>$$</c>), run by the published AOT
/// binary against MiniSpire: the child starts after the first write, gets <c>renew_signal</c> on each rotation,
/// and <c>/ready</c> answers the Go tool's JSON body.
/// </summary>
public sealed class HclDaemonModeAgainstMiniSpireTests : IAsyncLifetime
{
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private LocalMiniSpire _stack = null!;

    public async Task InitializeAsync() => _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact(Timeout = 120_000)]
    public async Task Daemon_GoHclConfigWithHealthChecksAndCmd_ServesGoReadyBodyAndSignalsTheChildOnRotation()
    {
        // 20 s TTL: the agent rotates every few seconds.
        await _stack.CreateEntryAsync("spiffe://example.org/hcl-daemon", "-selector", $"unix:uid:{Identity.Uid()}", "-x509SVIDTTL", "20");
        var dir = Path.Combine(_stack.Root, "hcl-daemon");
        var certs = Path.Combine(dir, "certs");
        Directory.CreateDirectory(dir);
        var childPid = Path.Combine(dir, "child.pid");
        var signals = Path.Combine(dir, "signals");
        var port = HelperRun.FreePort();
        var config = Path.Combine(dir, "helper.conf");

        // As the Go tool's users write it: HCL v1, `$$` for the shell, `'...'` inside a double-quoted csv field.
        await File.WriteAllTextAsync(config, $$"""
            // The Go tool's sidecar layout, unchanged but for the paths.
            agent_address = "{{_stack.AgentSocket}}"
            cmd = "/bin/sh"
            cmd_args = "-c \"echo $$ > {{childPid}}; trap 'echo USR1 >> {{signals}}' USR1; while :; do sleep 0.1; done\""
            cert_dir = "{{certs}}"
            renew_signal = "SIGUSR1"
            svid_file_name = "svid.pem"
            svid_key_file_name = "svid_key.pem"
            svid_bundle_file_name = "svid_bundle.pem"
            cert_file_mode = 0644
            key_file_mode = 0600
            jwt_bundle_file_name = "jwt_bundle.json"
            jwt_svids = [
              {
                jwt_audience = "orders"
                jwt_svid_file_name = "orders.token"
              },
            ]
            /* Health, as in the Go README. */
            health_checks {
              listener_enabled = true
              bind_port = {{port}}
              liveness_path = "/live"
              readiness_path = "/ready"
            }
            """);

        await using var helper = HelperRun.StartWithConfig(config, port);

        await Eventually.HoldsAsync(async () => (await helper.ReadinessAsync()).Status == 200, Timeout, () => $"/ready: {helper.ReadinessAsync().GetAwaiter().GetResult()}\n{helper.Output}");
        var (_, body) = await helper.ReadinessAsync();
        using (var json = JsonDocument.Parse(body))
        {
            var root = json.RootElement;
            Assert.Equal("OK", root.GetProperty("status").GetString());
            var statuses = root.GetProperty("health").GetProperty("file_write_statuses");
            Assert.Equal("written", statuses.GetProperty("x509_write_status").GetString());
            var jwt = statuses.GetProperty("jwt_write_status").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
            Assert.Equal("written", jwt[Path.Combine(certs, "orders.token")]);
        }

        Assert.Equal("0600", "0" + Convert.ToString((int)File.GetUnixFileMode(Path.Combine(certs, "svid_key.pem")), 8));
        Assert.Equal("0644", "0" + Convert.ToString((int)File.GetUnixFileMode(Path.Combine(certs, "svid.pem")), 8));

        // `$$` reached the shell as written: the file holds the child's own pid, a /bin/sh the helper started.
        await Eventually.HoldsAsync(() => Task.FromResult(File.Exists(childPid) && File.ReadAllText(childPid).Trim().Length > 0), Timeout, () => helper.Output);
        var pid = int.Parse(File.ReadAllText(childPid).Trim(), CultureInfo.InvariantCulture);
        Assert.Contains("sh", File.ReadAllText($"/proc/{pid}/cmdline"), StringComparison.Ordinal);
        Assert.Equal(helper.ProcessId.ToString(CultureInfo.InvariantCulture), File.ReadAllText($"/proc/{pid}/stat").Split(' ')[3]);

        // A rotation writes new files and the child gets SIGUSR1.
        var firstCertificate = await File.ReadAllTextAsync(Path.Combine(certs, "svid.pem"));
        await Eventually.HoldsAsync(
            () => Task.FromResult(File.ReadAllText(Path.Combine(certs, "svid.pem")) != firstCertificate && File.Exists(signals) && File.ReadAllText(signals).Contains("USR1", StringComparison.Ordinal)),
            Timeout,
            () => $"signals: {(File.Exists(signals) ? File.ReadAllText(signals) : "(none)")}\n{helper.Output}");

        Assert.Equal(0, await helper.TerminateAsync(Timeout));
        await Eventually.HoldsAsync(() => Task.FromResult(!File.Exists($"/proc/{pid}/stat") || File.ReadAllText($"/proc/{pid}/stat").Split(' ')[2] == "Z"), Timeout, () => "the child outlived the helper");
    }
}
