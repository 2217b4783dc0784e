using System.Globalization;
using System.Text.RegularExpressions;
using EndToEnd.Tests.Support;
using Spiffe.Testing;
using Xunit.Abstractions;

namespace EndToEnd.Tests;

/// <summary>
/// The helper's container image (scripts/build-image.sh, assembled from the AOT binary and Debian's libraries
/// where no registry can be reached) run by a real container runtime, podman with runc, under what a restricted
/// Kubernetes securityContext makes of a container: read-only root filesystem and no tmpfs anywhere else, uid 1654,
/// no capabilities, no_new_privs, its own network namespace with only loopback. The certificates go to a tmpfs
/// (an emptyDir of medium Memory), the Workload API socket comes from a MiniSpire agent on the host through a
/// read-only bind mount (what the SPIFFE CSI driver does).
/// </summary>
public sealed partial class HelperImageTests : IAsyncLifetime
{
    private const int ImageUid = 1654;
    private const string SpiffeId = "spiffe://example.org/ns/spiffe-demo/sa/image";
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>podman as the brief of this machine needs it: runc (crun refuses hybrid cgroups), cgroupfs.</summary>
    private static readonly string[] Podman = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"];

    /// <summary>
    /// Limits at or below this machine's hard limits (nofile 20000, nproc 96362): rootful podman asks for 1048576
    /// of each by default, and raising a hard limit needs CAP_SYS_RESOURCE, which root lacks here (its capability
    /// bounding set is 0x1fffeffffff: bit 24 is clear), so runc fails with "error setting rlimit type 6" (NPROC).
    /// </summary>
    private static readonly string[] Limits = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"];

    private readonly ITestOutputHelper _output;
    private readonly string _tag = "e2e-" + Guid.NewGuid().ToString("N")[..8];
    private readonly string _container;
    private LocalMiniSpire _stack = null!;

    public HelperImageTests(ITestOutputHelper output)
    {
        _output = output;
        _container = "spiffe-helper-" + _tag;
    }

    private string Image => $"localhost/spiffe-helper:{_tag}";

    public async Task InitializeAsync() => _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);

    public async Task DisposeAsync()
    {
        await PodmanAsync("rm", "--force", "--time", "0", _container);
        await PodmanAsync("rmi", "--force", Image);
        await _stack.DisposeAsync();
        var artifacts = Path.Combine(ProcessRunner.RepositoryRoot, "artifacts", "image");
        if (Directory.Exists(Path.Combine(artifacts, $"rootfs-{_tag}")))
        {
            Directory.Delete(Path.Combine(artifacts, $"rootfs-{_tag}"), recursive: true);
        }

        File.Delete(Path.Combine(artifacts, $"spiffe-helper-{_tag}.rootfs.tar"));
        File.Delete(Path.Combine(artifacts, $"spiffe-helper-{_tag}.docker.tar"));
    }

    [Fact]
    public async Task Image_UnderRestrictedSettings_WritesTheFilesToTheTmpfsAnswersReadyAndStopsOnSigterm()
    {
        var build = await BuildImageAsync();
        var size = long.Parse(SizeLine().Match(build.StandardOutput).Groups["bytes"].Value, CultureInfo.InvariantCulture);
        _output.WriteLine($"image {Image}: {size} bytes ({size / 1024.0 / 1024.0:F1} MiB)");
        Console.WriteLine($"HelperImageTests: the assembled spiffe-helper image is {size} bytes ({size / 1024.0 / 1024.0:F1} MiB)");
        // The AOT binary (~11 MB) and glibc, libgcc_s and OpenSSL 3: far below a distribution base image.
        Assert.InRange(size, 5L * 1024 * 1024, 40L * 1024 * 1024);
        await AssertNoShellAsync();

        var version = await PodmanAsync(["run", "--rm", "--network", "none", .. Limits, "--read-only", "--read-only-tmpfs=false", "--user", "1654", "--cap-drop", "ALL", Image, "-version"]);
        Assert.True(version.ExitCode == 0, version.ToString());
        Assert.Matches(@"^spiffe-helper 0\.2\.0 \(commit ([0-9a-f]{7}|unknown)\)\s*$", version.StandardOutput);

        await _stack.CreateEntryAsync(SpiffeId, "-selector", $"unix:uid:{ImageUid}", "-x509SVIDTTL", "60");
        var config = Directory.CreateDirectory(Path.Combine(_stack.Root, "image-config")).FullName;
        await File.WriteAllTextAsync(Path.Combine(config, "helper.conf"), """
            agent_address = "unix:///spiffe-workload-api/api.sock"
            cert_dir = "/run/spiffe/certs"
            svid_file_name = "svid.pem"
            svid_key_file_name = "svid_key.pem"
            svid_bundle_file_name = "bundle.pem"
            daemon_mode = true
            cert_file_mode = 0o644
            key_file_mode = 0o600

            [health_checks]
            listener_enabled = true
            bind_port = 8088
            liveness_path = "/live"
            readiness_path = "/ready"
            """);
        File.SetUnixFileMode(config, (UnixFileMode)0b111_101_101);
        File.SetUnixFileMode(Path.Combine(config, "helper.conf"), (UnixFileMode)0b110_100_100);

        var run = await PodmanAsync(
        [
            "run", "--detach", "--name", _container,
            "--network", "none",
            .. Limits,
            "--read-only", "--read-only-tmpfs=false",
            "--user", $"{ImageUid}:{ImageUid}",
            "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges",
            "--mount", "type=tmpfs,destination=/run/spiffe/certs,tmpfs-size=1m,tmpfs-mode=0777",
            "--volume", $"{Path.GetDirectoryName(_stack.AgentSocket)}:/spiffe-workload-api:ro",
            "--volume", $"{config}:/etc/spiffe-helper:ro",
            Image,
        ]);
        Assert.True(run.ExitCode == 0, run.ToString());
        var pid = await ContainerPidAsync();

        // The container's own view of its files, from the host, through its root: the tmpfs is nowhere else.
        var certs = $"/proc/{pid}/root/run/spiffe/certs";
        await Eventually.HoldsAsync(
            () => Task.FromResult(File.Exists(Path.Combine(certs, "svid.pem")) && File.Exists(Path.Combine(certs, "svid_key.pem")) && File.Exists(Path.Combine(certs, "bundle.pem"))),
            Timeout,
            () => $"files in the tmpfs: {string.Join(", ", Directory.Exists(certs) ? Directory.GetFileSystemEntries(certs) : [])}; logs: {Logs()}");
        await Openssl.AssertChainAndKeyAsync(certs, SpiffeId);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Resolved(certs, "svid_key.pem")));
        Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(Resolved(certs, "svid.pem")));
        Assert.Equal((UnixFileMode)0b110_100_100, File.GetUnixFileMode(Resolved(certs, "bundle.pem")));
        var stat = await ProcessRunner.RunAsync("stat", ["-c", "%u", Resolved(certs, "svid_key.pem")], Timeout);
        Assert.Equal(ImageUid.ToString(CultureInfo.InvariantCulture), stat.StandardOutput.Trim());

        // What the runtime really applied to the process.
        var status = await File.ReadAllTextAsync($"/proc/{pid}/status");
        Assert.Matches(@"(?m)^Uid:\s+1654\s+1654\s+1654\s+1654$", status);
        Assert.Matches(@"(?m)^CapEff:\s+0000000000000000$", status);
        Assert.Matches(@"(?m)^CapPrm:\s+0000000000000000$", status);
        Assert.Matches(@"(?m)^NoNewPrivs:\s+1$", status);
        var mounts = await File.ReadAllLinesAsync($"/proc/{pid}/mountinfo");
        Assert.Contains(mounts, m => m.Split(' ')[4] == "/" && m.Split(' ')[5].Split(',').Contains("ro"));
        Assert.Contains(mounts, m => m.Split(' ')[4] == "/run/spiffe/certs" && m.Contains(" - tmpfs ", StringComparison.Ordinal));
        Assert.DoesNotContain(mounts, m => m.Split(' ')[4] == "/tmp");

        // /ready and /metrics on the container's loopback, reached from its network namespace (nothing is published).
        await Eventually.HoldsAsync(async () => (await CurlInContainerAsync(pid, "/ready")).ExitCode == 0, Timeout, Logs);
        var metrics = await CurlInContainerAsync(pid, "/metrics");
        Assert.True(metrics.ExitCode == 0, metrics.ToString());
        Assert.Matches(@"(?m)^spiffe_helper_build_info\{version=""0\.2\.0 \(commit ([0-9a-f]{7}|unknown)\)""\} 1$", metrics.StandardOutput);

        // SIGTERM (podman stop; SIGKILL only after 20 s) ends it cleanly, exit 0.
        var started = DateTime.UtcNow;
        var stop = await PodmanAsync("stop", "--time", "20", _container);
        Assert.True(stop.ExitCode == 0, stop.ToString());
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(15), $"stopping took {DateTime.UtcNow - started}: SIGTERM was not enough");
        var exit = await PodmanAsync("inspect", "--format", "{{.State.ExitCode}}", _container);
        Assert.Equal("0", exit.StandardOutput.Trim());
    }

    private async Task<ProcessResult> BuildImageAsync()
    {
        var build = await ProcessRunner.RunAsync(
            "bash",
            [Path.Combine(ProcessRunner.RepositoryRoot, "scripts", "build-image.sh")],
            TimeSpan.FromMinutes(3),
            ProcessRunner.RepositoryRoot,
            new Dictionary<string, string?> { ["IMAGE_TAG"] = _tag, ["IMAGE_BUILD"] = "assemble", ["HELPER_BINARY"] = PublishedHelperBinary.Get() });
        _output.WriteLine(build.StandardOutput);
        Assert.True(build.ExitCode == 0, build.ToString());
        return build;
    }

    /// <summary>The image's files (its root filesystem tarball) hold no shell and no package manager.</summary>
    private async Task AssertNoShellAsync()
    {
        var tarball = Path.Combine(ProcessRunner.RepositoryRoot, "artifacts", "image", $"spiffe-helper-{_tag}.rootfs.tar");
        var list = await ProcessRunner.RunAsync("tar", ["-tf", tarball], Timeout);
        Assert.True(list.ExitCode == 0, list.ToString());
        var files = list.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains("./usr/local/bin/spiffe-helper", files);
        Assert.Contains(files, f => f.EndsWith("/libssl.so.3", StringComparison.Ordinal));
        Assert.DoesNotContain(files, f => Regex.IsMatch(f, @"/(s?bin/)?(sh|bash|dash|busybox|apt|dpkg)$"));
        Assert.DoesNotContain(files, f => f.Contains("libicu", StringComparison.Ordinal));
        _output.WriteLine($"{files.Length} entries in the image's root filesystem");
    }

    /// <summary>The file behind the visible name (the helper's links through ..data are relative, so they resolve here).</summary>
    private static string Resolved(string directory, string file) =>
        new FileInfo(Path.Combine(directory, file)).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? Path.Combine(directory, file);

    private async Task<int> ContainerPidAsync()
    {
        var inspect = await PodmanAsync("inspect", "--format", "{{.State.Pid}}", _container);
        Assert.True(inspect.ExitCode == 0, inspect.ToString());
        var pid = int.Parse(inspect.StandardOutput.Trim(), CultureInfo.InvariantCulture);
        Assert.True(pid > 0, $"the container is not running: {Logs()}");
        return pid;
    }

    private static Task<ProcessResult> CurlInContainerAsync(int pid, string path) =>
        ProcessRunner.RunAsync("nsenter", ["--target", pid.ToString(CultureInfo.InvariantCulture), "--net", "curl", "-sS", "--fail", "--max-time", "5", $"http://127.0.0.1:8088{path}"], Timeout);

    private string Logs() => PodmanAsync("logs", _container).GetAwaiter().GetResult().ToString();

    private static Task<ProcessResult> PodmanAsync(params string[] args) =>
        ProcessRunner.RunAsync("podman", [.. Podman, .. args], Timeout);

    [GeneratedRegex(@"image localhost/spiffe-helper:\S+: (?<bytes>\d+) bytes")]
    private static partial Regex SizeLine();
}
