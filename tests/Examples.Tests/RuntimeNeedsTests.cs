using System.Text.Json;

namespace Examples.Tests;

/// <summary>
/// The run-time check (tools/manifest-validation/runtime-needs.mjs with runtime-needs.yaml): the example's
/// programs get the writable paths, sockets, ports, host paths and API rights their source says they use.
/// Each failing case breaks one thing in a copy of the example and expects the check to name it.
/// </summary>
public sealed class RuntimeNeedsTests
{
    /// <summary>Images of the example that are applications, not upstream parts of the deployment.</summary>
    private static readonly string[] Applications =
        ["nginxinc/nginx-unprivileged", "ghostunnel/ghostunnel", "hashicorp/http-echo"];

    private static IEnumerable<string> TopLevelManifests() =>
        ManifestValidator.ExampleManifests().Where(f => !f.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal));

    [Fact]
    public async Task RuntimeNeeds_ExampleManifests_AllMet()
    {
        var run = await ManifestValidator.ValidateWithRuntimeNeedsAsync(
            TopLevelManifests().Select(f => Path.Combine(ManifestValidator.ExamplesDirectory, f)));

        Assert.True(run.ExitCode == 0, run.StandardError);
        Assert.Equal("", run.StandardError);
        Assert.Contains("ok runtime needs (12 files)", run.StandardOutput, StringComparison.Ordinal);
    }

    /// <summary>
    /// The example as it was before this check existed (Fixtures/, the 12-spire-server.yaml of commit cec82fd):
    /// spire-controller-manager with a read-only root filesystem and no volume at /tmp, where it creates its
    /// webhook certificate directory at start-up. On a cluster it crash-looped; the schema check passed it.
    /// </summary>
    [Fact]
    public async Task RuntimeNeeds_OldControllerManagerWithoutTmp_FailsOnTheTmpWrite()
    {
        using var copy = new ExampleCopy();
        File.Copy(Path.Combine(AppContext.BaseDirectory, "Fixtures", "12-spire-server.controller-manager-without-tmp.yaml"), copy.PathOf("12-spire-server.yaml"), overwrite: true);

        var schemaOnly = await ManifestValidator.ValidateAsync(copy.PathOf("12-spire-server.yaml"));
        var run = await copy.CheckAsync();

        Assert.True(schemaOnly.ExitCode == 0, schemaOnly.StandardError);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains(
            "runtime: StatefulSet spire-system/spire-server container spire-controller-manager (ghcr.io/spiffe/spire-controller-manager): writes /tmp, but its root filesystem is read-only and no writable volume is mounted there",
            run.StandardError,
            StringComparison.Ordinal);
        Assert.Contains("source: cmd/main.go (run, webhookEnabled)", run.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    // The controller manager dials /spire-server/api.sock (its default): mounted elsewhere, nothing listens there.
    [InlineData("12-spire-server.yaml", "              mountPath: /spire-server\n", "              mountPath: /spire-srv\n",
        "container spire-controller-manager (ghcr.io/spiffe/spire-controller-manager): connects to /spire-server/api.sock (StatefulSet spire-system/spire-server container spire-controller-manager: /spire-server/api.sock (image file system)), where no container listens")]
    // The agent moves its socket: the CSI driver still exposes the old node directory to the helpers.
    [InlineData("20-spire-agent.yaml", "socket_path = \"/run/spire/agent-sockets/spire-agent.sock\"", "socket_path = \"/run/spire/agent-sockets/agent.sock\"",
        "Deployment spiffe-demo/nginx-mtls container spiffe-helper (spiffe-helper): connects to /spiffe-workload-api/spire-agent.sock (node:/run/spire/agent-sockets/spire-agent.sock), where no container listens")]
    // The server's socket directory on the read-only root filesystem.
    [InlineData("12-spire-server.yaml", "socket_path = \"/tmp/spire-server/private/api.sock\"", "socket_path = \"/opt/spire/api.sock\"",
        "container spire-server (ghcr.io/spiffe/spire-server): creates the socket /opt/spire/api.sock, but /opt/spire is not on a writable volume (no volume)")]
    // The helper listens on another port than its probes and the PodMonitor use.
    [InlineData("50-spiffe-helper-config.yaml", "bind_port = 8088\n    liveness_path = \"/live\"\n    readiness_path = \"/ready\"\n  # For the one-shot", "bind_port = 8089\n    liveness_path = \"/live\"\n    readiness_path = \"/ready\"\n  # For the one-shot",
        "Deployment spiffe-demo/nginx-mtls container spiffe-helper (spiffe-helper): livenessProbe uses port helper-http (8088), where the program does not listen (it listens on 8089)")]
    // The SPIRE server's health listener on its default address, localhost: the kubelet's probes cannot reach it.
    [InlineData("12-spire-server.yaml", "      bind_address = \"0.0.0.0\"\n      bind_port = \"8080\"", "      bind_port = \"8080\"",
        "container spire-server (ghcr.io/spiffe/spire-server): livenessProbe uses port 8080, which the program binds to localhost only: the kubelet cannot reach it")]
    // The webhook Service's targetPort no longer names a port of the pod.
    [InlineData("12-spire-server.yaml", "      targetPort: webhook", "      targetPort: webhooks",
        "Service spire-system/spire-controller-manager-webhook-service port 443: targetPort webhooks is no container port of StatefulSet spire-system/spire-server")]
    // The agents dial a port the server's Service does not expose.
    [InlineData("20-spire-agent.yaml", "server_port = \"8081\"", "server_port = \"8443\"",
        "container spire-agent (ghcr.io/spiffe/spire-agent): connects to spire-server.spire-system.svc:8443, but Service spire-system/spire-server has no port 8443")]
    // The controller manager cannot patch its webhook's caBundle.
    [InlineData("11-spire-server-rbac.yaml", "resources: [\"validatingwebhookconfigurations\"]\n    verbs: [\"get\", \"list\", \"watch\", \"patch\"]", "resources: [\"validatingwebhookconfigurations\"]\n    verbs: [\"get\", \"list\", \"watch\"]",
        "container spire-controller-manager (ghcr.io/spiffe/spire-controller-manager): service account spire-system/spire-server may not \"patch\" validatingwebhookconfigurations.admissionregistration.k8s.io cluster-wide")]
    // k8s_psat without TokenReviews: every agent's attestation fails.
    [InlineData("11-spire-server-rbac.yaml", "    resources: [\"tokenreviews\"]\n    verbs: [\"create\"]", "    resources: [\"tokenreviews\"]\n    verbs: [\"get\"]",
        "container spire-server (ghcr.io/spiffe/spire-server): service account spire-system/spire-server may not \"create\" tokenreviews.authentication.k8s.io cluster-wide")]
    // The notifier's right limited to another ConfigMap than the one it patches.
    [InlineData("11-spire-server-rbac.yaml", "resourceNames: [\"spire-bundle\"]", "resourceNames: [\"spire-bundles\"]",
        "may not \"patch\" configmaps \"spire-bundle\" in namespace spire-system")]
    // The registrar tells the kubelet a socket path where the driver's socket is not.
    [InlineData("30-spiffe-csi-driver.yaml", "- /var/lib/kubelet/plugins/csi.spiffe.io/csi.sock", "- /var/lib/kubelet/plugins/spiffe/csi.sock",
        "container node-driver-registrar (registry.k8s.io/sig-storage/csi-node-driver-registrar): /spiffe-csi/csi.sock must be the node's /var/lib/kubelet/plugins/spiffe/csi.sock, but it is node:/var/lib/kubelet/plugins/csi.spiffe.io/csi.sock")]
    // The CSI driver loses Bidirectional propagation: its bind mounts would never reach the pods.
    [InlineData("30-spiffe-csi-driver.yaml", "              mountPropagation: Bidirectional\n", "",
        "container spiffe-csi-driver (ghcr.io/spiffe/spiffe-csi-driver): needs the node's /var/lib/kubelet/pods at /var/lib/kubelet/pods with mountPropagation Bidirectional")]
    // The agent without hostPID cannot find its callers' pods.
    [InlineData("20-spire-agent.yaml", "      hostPID: true\n", "",
        "container spire-agent (ghcr.io/spiffe/spire-agent): needs hostPID: true on its pod")]
    // The agent's k8s_psat token volume projects another file name.
    [InlineData("20-spire-agent.yaml", "                  path: spire-agent\n", "                  path: agent-token\n",
        "container spire-agent (ghcr.io/spiffe/spire-agent): reads /var/run/secrets/tokens/spire-agent, but the projected volume spire-token holds agent-token")]
    // A version bump without re-reading the source of the new version.
    [InlineData("20-spire-agent.yaml", "ghcr.io/spiffe/spire-agent:1.15.3", "ghcr.io/spiffe/spire-agent:1.16.0",
        "container spire-agent (ghcr.io/spiffe/spire-agent): runs 1.16.0, but runtime-needs.yaml was read from 1.15.3")]
    public async Task RuntimeNeeds_OneThingBroken_NamesIt(string file, string replace, string with, string expected)
    {
        using var copy = new ExampleCopy();
        copy.Replace(file, replace, with);

        var run = await copy.CheckAsync();

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(expected, run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RuntimeNeedsTable_EveryUpstreamImageOfTheExample_HasARowWithSources()
    {
        var table = Assert.Single(await ManifestValidator.DumpFileAsync(ManifestValidator.RuntimeNeedsFile));
        var rows = Manifest.Items(table, "images").ToList();
        var images = (await Manifest.AllAsync())
            .Where(Manifest.IsWorkload)
            .SelectMany(w => Manifest.AllContainers(Manifest.PodSpec(w)))
            .Select(c => Manifest.Text(c, "image")!)
            .Select(image => image[..image.LastIndexOf(':')])
            .Distinct()
            .Where(repository => !Applications.Contains(repository))
            .ToList();

        Assert.Equal(6, images.Count);
        Assert.All(images, repository => Assert.Contains(rows, row => Manifest.Text(row, "image") == repository));
        Assert.All(rows, row =>
        {
            Assert.False(string.IsNullOrWhiteSpace(Manifest.Text(row, "upstream")), $"{Manifest.Text(row, "image")}: upstream");
            Assert.NotEmpty(Manifest.Items(row, "needs"));
            Assert.All(Manifest.Items(row, "needs"), need => Assert.False(string.IsNullOrWhiteSpace(Manifest.Text(need, "source")), need.ToString()));
            foreach (var setting in Manifest.Find(row, "settings")?.EnumerateObject() ?? Enumerable.Empty<JsonProperty>())
            {
                Assert.False(string.IsNullOrWhiteSpace(Manifest.Text(setting.Value, "source")), $"{Manifest.Text(row, "image")} setting {setting.Name}");
            }
        });
    }

    /// <summary>A copy of examples/kubernetes in a temporary directory, to break one file of it.</summary>
    private sealed class ExampleCopy : IDisposable
    {
        private readonly string _directory = Directory.CreateTempSubdirectory("runtime-needs-").FullName;

        public ExampleCopy()
        {
            foreach (var file in TopLevelManifests())
            {
                File.Copy(Path.Combine(ManifestValidator.ExamplesDirectory, file), PathOf(file));
            }
        }

        public string PathOf(string file) => Path.Combine(_directory, file);

        public void Replace(string file, string replace, string with)
        {
            var text = File.ReadAllText(PathOf(file));
            Assert.Contains(replace, text, StringComparison.Ordinal);
            File.WriteAllText(PathOf(file), text.Replace(replace, with, StringComparison.Ordinal));
        }

        public Task<ValidatorRun> CheckAsync() =>
            ManifestValidator.ValidateWithRuntimeNeedsAsync(TopLevelManifests().Select(PathOf));

        public void Dispose() => Directory.Delete(_directory, recursive: true);
    }
}
