using System.Text.Json;
using Tomlyn;
using Tomlyn.Model;

namespace Examples.Tests;

/// <summary>
/// The application pods: the helper as a one-shot init container plus a native sidecar, under the
/// restricted Pod Security Standard, its files in memory, the socket from the CSI driver, and an
/// embedded helper.conf that agrees with the pod around it.
/// </summary>
public sealed class HelperPodPolicyTests
{
    private const string HelperImage = "spiffe-helper:";
    private const string SocketDirectory = "/spiffe-workload-api";
    private const string EndpointSocket = "unix:///spiffe-workload-api/spire-agent.sock";

    /// <summary>The Go spiffe-helper's key names this example may use, and nothing else.</summary>
    private static readonly string[] AllowedKeys =
    [
        "agent_address", "cert_dir", "svid_file_name", "svid_key_file_name", "svid_bundle_file_name",
        "renew_signal", "pid_file_name", "daemon_mode", "health_checks", "cert_file_mode", "key_file_mode",
    ];

    private static readonly string[] HealthCheckKeys = ["listener_enabled", "bind_port", "liveness_path", "readiness_path"];

    public static TheoryData<string, string> Applications() => new()
    {
        { "60-app-nginx-signal.yaml", "nginx-mtls" },
        { "61-app-ghostunnel-watch.yaml", "echo-watch" },
    };

    [Theory]
    [MemberData(nameof(Applications))]
    public async Task HelperContainers_ApplicationPod_RunUnderTheRestrictedStandard(string file, string name)
    {
        var pod = Manifest.PodSpec(await Manifest.SingleAsync(file, "Deployment", name));

        var helpers = HelperContainers(pod);

        Assert.Equal(2, helpers.Count);
        foreach (var helper in helpers)
        {
            var context = Manifest.Get(helper, "securityContext");
            Assert.True(Manifest.Flag(context, "runAsNonRoot"), "runAsNonRoot");
            Assert.True(Manifest.Flag(context, "readOnlyRootFilesystem"), "readOnlyRootFilesystem");
            Assert.False(Manifest.Flag(context, "allowPrivilegeEscalation") ?? true, "allowPrivilegeEscalation");
            Assert.NotEqual(true, Manifest.Flag(context, "privileged"));
            Assert.Equal(["ALL"], Manifest.Strings(context, "capabilities", "drop"));
            Assert.Empty(Manifest.Items(context, "capabilities", "add"));
            Assert.Equal("RuntimeDefault", Manifest.Text(context, "seccompProfile", "type"));
            Assert.NotEqual(0, Manifest.Find(context, "runAsUser")?.GetInt32() ?? Manifest.Get(pod, "securityContext", "runAsUser").GetInt32());
        }
    }

    [Theory]
    [MemberData(nameof(Applications))]
    public async Task HelperContainers_ApplicationPod_RequestWhatTheHelperWasMeasuredToUse(string file, string name)
    {
        var pod = Manifest.PodSpec(await Manifest.SingleAsync(file, "Deployment", name));

        Assert.All(HelperContainers(pod), helper =>
        {
            Assert.Equal("32Mi", Manifest.Text(helper, "resources", "requests", "memory"));
            Assert.Equal("5m", Manifest.Text(helper, "resources", "requests", "cpu"));
            Assert.Equal("64Mi", Manifest.Text(helper, "resources", "limits", "memory"));
        });
    }

    [Theory]
    [MemberData(nameof(Applications))]
    public async Task HelperContainers_ApplicationPod_OneShotInitThenNativeSidecarThenApplication(string file, string name)
    {
        var pod = Manifest.PodSpec(await Manifest.SingleAsync(file, "Deployment", name));

        var init = Manifest.Items(pod, "initContainers").ToList();

        Assert.Equal(2, init.Count);
        Assert.StartsWith(HelperImage, Manifest.Text(init[0], "image"), StringComparison.Ordinal);
        Assert.Contains("-daemon-mode=false", Manifest.Strings(init[0], "args"));
        Assert.Null(Manifest.Text(init[0], "restartPolicy"));
        Assert.StartsWith(HelperImage, Manifest.Text(init[1], "image"), StringComparison.Ordinal);
        Assert.Equal("Always", Manifest.Text(init[1], "restartPolicy"));
        Assert.DoesNotContain("-daemon-mode=false", Manifest.Strings(init[1], "args"));
        Assert.DoesNotContain(Manifest.Items(pod, "containers"), c => Manifest.Text(c, "image")!.StartsWith(HelperImage, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Applications))]
    public async Task Volumes_ApplicationPod_CertsInMemoryAndSocketFromReadOnlyCsi(string file, string name)
    {
        var pod = Manifest.PodSpec(await Manifest.SingleAsync(file, "Deployment", name));
        var config = await HelperConfigAsync(file, pod);
        var certDir = (string)config["cert_dir"];

        foreach (var helper in HelperContainers(pod))
        {
            var certs = Manifest.Volume(pod, Manifest.Text(Manifest.MountAt(helper, certDir), "name")!);
            Assert.Equal("Memory", Manifest.Text(certs, "emptyDir", "medium"));

            var socketMount = Manifest.MountAt(helper, SocketDirectory);
            Assert.True(Manifest.Flag(socketMount, "readOnly"), "the socket mount is read-only");
            var socket = Manifest.Volume(pod, Manifest.Text(socketMount, "name")!);
            Assert.Equal("csi.spiffe.io", Manifest.Text(socket, "csi", "driver"));
            Assert.True(Manifest.Flag(socket, "csi", "readOnly"), "the CSI driver refuses a volume that is not readOnly");

            var env = Assert.Single(Manifest.Items(helper, "env"), e => Manifest.Text(e, "name") == "SPIFFE_ENDPOINT_SOCKET");
            Assert.Equal(EndpointSocket, Manifest.Text(env, "value"));
        }

        Assert.DoesNotContain(Manifest.Items(pod, "volumes"), v => Manifest.Find(v, "hostPath") is not null);
        Assert.Equal(EndpointSocket, config["agent_address"]);
    }

    [Theory]
    [MemberData(nameof(Applications))]
    public async Task HelperConfig_EmbeddedToml_UsesOnlyTheGoToolKeys(string file, string name)
    {
        var pod = Manifest.PodSpec(await Manifest.SingleAsync(file, "Deployment", name));

        var config = await HelperConfigAsync(file, pod);

        Assert.Empty(config.Keys.Except(AllowedKeys));
        Assert.Equal(HealthCheckKeys.Order(), ((TomlTable)config["health_checks"]).Keys.Order());
        Assert.Equal(["svid.pem", "svid_key.pem", "bundle.pem"], new[] { config["svid_file_name"], config["svid_key_file_name"], config["svid_bundle_file_name"] });
        Assert.Equal(true, config["daemon_mode"]);
        Assert.Equal(Convert.ToInt64("644", 8), config["cert_file_mode"]);
        Assert.Equal(Convert.ToInt64("600", 8), config["key_file_mode"]);
    }

    [Theory]
    [MemberData(nameof(Applications))]
    public async Task Probes_HelperSidecar_PointAtTheConfiguredHealthListener(string file, string name)
    {
        var deployment = await Manifest.SingleAsync(file, "Deployment", name);
        var pod = Manifest.PodSpec(deployment);
        var health = (TomlTable)(await HelperConfigAsync(file, pod))["health_checks"];
        var sidecar = HelperContainers(pod)[1];

        Assert.Equal(true, health["listener_enabled"]);
        Assert.Equal(8088L, health["bind_port"]);
        var liveness = Manifest.Get(sidecar, "livenessProbe", "httpGet");
        var readiness = Manifest.Get(sidecar, "readinessProbe", "httpGet");
        Assert.Equal(health["liveness_path"], Manifest.Text(liveness, "path"));
        Assert.Equal(health["readiness_path"], Manifest.Text(readiness, "path"));
        Assert.Equal(8088, Manifest.Port(sidecar, Manifest.Get(liveness, "port")));
        Assert.Equal(8088, Manifest.Port(sidecar, Manifest.Get(readiness, "port")));
        Assert.Equal("8088", Manifest.Text(deployment, "spec", "template", "metadata", "annotations", "prometheus.io/port"));
        Assert.Equal("true", Manifest.Text(deployment, "spec", "template", "metadata", "annotations", "prometheus.io/scrape"));
    }

    [Theory]
    [MemberData(nameof(Applications))]
    public async Task PodMonitor_ApplicationPod_SelectsItAndScrapesTheHelperPort(string file, string name)
    {
        var deployment = await Manifest.SingleAsync(file, "Deployment", name);
        var monitor = await Manifest.SingleAsync("70-podmonitor.yaml", "PodMonitor", "spiffe-helper");
        var pod = Manifest.PodSpec(deployment);

        Assert.Contains(Manifest.Text(deployment, "metadata", "namespace"), Manifest.Strings(monitor, "spec", "namespaceSelector", "matchNames"));
        var labels = Manifest.Get(monitor, "spec", "selector", "matchLabels").EnumerateObject().ToList();
        Assert.NotEmpty(labels);
        Assert.All(labels, label => Assert.Equal(label.Value.GetString(), Manifest.Text(deployment, "spec", "template", "metadata", "labels", label.Name)));
        var endpoint = Assert.Single(Manifest.Items(monitor, "spec", "podMetricsEndpoints"));
        Assert.Equal("/metrics", Manifest.Text(endpoint, "path"));
        Assert.Equal(8088, Manifest.Port(HelperContainers(pod)[1], Manifest.Get(endpoint, "port")));
        Assert.Equal("/metrics", Manifest.Text(deployment, "spec", "template", "metadata", "annotations", "prometheus.io/path"));
    }

    [Fact]
    public async Task ShareProcessNamespace_SignallingVariant_SharesItWithTheApplicationsUser()
    {
        const string file = "60-app-nginx-signal.yaml";
        var pod = Manifest.PodSpec(await Manifest.SingleAsync(file, "Deployment", "nginx-mtls"));
        var config = await HelperConfigAsync(file, pod);

        Assert.True(Manifest.Flag(pod, "shareProcessNamespace"), "shareProcessNamespace");
        Assert.Equal("SIGHUP", config["renew_signal"]);
        // The pid file's directory is a volume both the helper and nginx mount.
        var pidDirectory = Path.GetDirectoryName((string)config["pid_file_name"])!;
        var nginx = Assert.Single(Manifest.Items(pod, "containers"), c => Manifest.Text(c, "name") == "nginx");
        Assert.Equal(
            Manifest.Text(Manifest.MountAt(nginx, pidDirectory), "name"),
            Manifest.Text(Manifest.MountAt(HelperContainers(pod)[1], pidDirectory), "name"));
        // Without CAP_KILL a signal only reaches processes of the same uid: one user for the whole pod.
        Assert.NotNull(Manifest.Find(pod, "securityContext", "runAsUser"));
        Assert.All(Manifest.AllContainers(pod), c => Assert.Null(Manifest.Find(c, "securityContext", "runAsUser")));
    }

    [Fact]
    public async Task ShareProcessNamespace_WatchingVariant_IsOffAndNothingIsSignalled()
    {
        const string file = "61-app-ghostunnel-watch.yaml";
        var pod = Manifest.PodSpec(await Manifest.SingleAsync(file, "Deployment", "echo-watch"));
        var config = await HelperConfigAsync(file, pod);

        Assert.NotEqual(true, Manifest.Flag(pod, "shareProcessNamespace"));
        Assert.False(config.ContainsKey("pid_file_name"));
        Assert.False(config.ContainsKey("renew_signal"));
    }

    private static List<JsonElement> HelperContainers(JsonElement pod) =>
        Manifest.AllContainers(pod).Where(c => Manifest.Text(c, "image")!.StartsWith(HelperImage, StringComparison.Ordinal)).ToList();

    [Theory]
    [MemberData(nameof(Applications))]
    public async Task HelperConfig_EmbeddedToml_IsAcceptedByTheHelpersOwnLoader(string file, string name)
    {
        var pod = Manifest.PodSpec(await Manifest.SingleAsync(file, "Deployment", name));
        var (path, toml) = await HelperConfigTextAsync(file, pod);
        var (initPath, initToml) = await HelperConfigTextAsync(file, pod, container: 0);

        // The init container runs its file with -daemon-mode=false, the sidecar as the file says.
        var sidecar = SpiffeHelper.Config.ConfigLoader.Parse(toml, path, _ => null, daemonModeOverride: null, "/");
        var init = SpiffeHelper.Config.ConfigLoader.Parse(initToml, initPath, _ => null, daemonModeOverride: false, "/");

        Assert.True(sidecar.Succeeded, string.Join(Environment.NewLine, sidecar.Errors));
        Assert.True(init.Succeeded, string.Join(Environment.NewLine, init.Errors));
        Assert.True(sidecar.Options!.DaemonMode);
        Assert.False(init.Options!.DaemonMode);
        Assert.Equal("/spiffe-workload-api/spire-agent.sock", sidecar.Options.AgentAddress.SocketPath);
        Assert.Equal(new SpiffeHelper.Config.HealthOptions(true, 8088, "/live", "/ready"), sidecar.Options.Health);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, sidecar.Options.KeyFileMode);
    }

    /// <summary>The helper.conf of the ConfigMap that the pod's helpers mount, parsed as TOML.</summary>
    private static async Task<TomlTable> HelperConfigAsync(string file, JsonElement pod) =>
        TomlSerializer.Deserialize<TomlTable>((await HelperConfigTextAsync(file, pod)).Toml)!;

    /// <summary>Where a helper of the pod (by default the sidecar, 0 the init container) reads its config, and its text from the ConfigMap it mounts.</summary>
    private static async Task<(string Path, string Toml)> HelperConfigTextAsync(string file, JsonElement pod, int container = 1)
    {
        var args = Manifest.Strings(HelperContainers(pod)[container], "args").ToList();
        var configPath = args[args.IndexOf("-config") + 1];
        var mount = Manifest.MountAt(HelperContainers(pod)[container], Path.GetDirectoryName(configPath)!);
        var volume = Manifest.Volume(pod, Manifest.Text(mount, "name")!);
        var configMapName = Manifest.Text(volume, "configMap", "name")!;
        var configMap = await Manifest.SingleAsync("50-spiffe-helper-config.yaml", "ConfigMap", configMapName);
        Assert.Equal(Manifest.Text(await Manifest.SingleAsync(file, "Deployment"), "metadata", "namespace"), Manifest.Text(configMap, "metadata", "namespace"));
        return (configPath, Manifest.Text(configMap, "data", Path.GetFileName(configPath))!);
    }
}
