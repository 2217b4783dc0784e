using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Examples.Tests;

/// <summary>
/// examples/kustomize: the helper's own parts as a kustomize base and component, rendered with
/// <c>kubectl kustomize</c> and checked like the walkthrough's manifests, together with its SPIRE side.
/// </summary>
public sealed class KustomizeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private static readonly string KustomizeDirectory = Path.Combine(ManifestValidator.RepositoryRoot, "examples", "kustomize");

    /// <summary>The walkthrough's SPIRE side: namespaces, server, agent, CSI driver, ClusterSPIFFEID.</summary>
    private static readonly string[] Spire =
    [
        "00-namespaces.yaml", "10-spire-bundle.yaml", "11-spire-server-rbac.yaml", "12-spire-server.yaml",
        "20-spire-agent.yaml", "30-spiffe-csi-driver.yaml", "40-cluster-spiffeid.yaml",
    ];

    [Fact]
    public async Task Example_Rendered_PassesTheSchemasAndTheRuntimeNeedsWithTheWalkthroughsSpire()
    {
        using var rendered = await RenderAsync("example");

        var run = await ManifestValidator.ValidateWithRuntimeNeedsAsync([.. Spire.Select(f => Path.Combine(ManifestValidator.ExamplesDirectory, f)), rendered.Path]);

        Assert.True(run.ExitCode == 0, run.StandardError);
        Assert.Equal("", run.StandardError);
        Assert.Contains($"ok {rendered.Path} (6 documents)", run.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("ok runtime needs (8 files)", run.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Example_RenderedWithoutTheCsiDriver_FailsTheRuntimeNeeds()
    {
        using var rendered = await RenderAsync("example");
        var withoutDriver = Spire.Where(f => f != "30-spiffe-csi-driver.yaml").Select(f => Path.Combine(ManifestValidator.ExamplesDirectory, f));

        var run = await ManifestValidator.ValidateWithRuntimeNeedsAsync([.. withoutDriver, rendered.Path]);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(
            "runtime: Deployment spiffe-demo/echo-kustomize container spiffe-helper (spiffe-helper): connects to /spiffe-workload-api/spire-agent.sock (csi:csi.spiffe.io:spire-agent.sock), where no container listens",
            run.StandardError,
            StringComparison.Ordinal);
    }

    [Fact]
    public async Task SidecarComponent_Rendered_IsTheWalkthroughsInitContainerAndNativeSidecar()
    {
        using var rendered = await RenderAsync("example");
        var documents = await ManifestValidator.DumpFileAsync(rendered.Path);
        var deployment = Assert.Single(documents, d => Manifest.Text(d, "kind") == "Deployment");
        var walkthrough = await Manifest.SingleAsync("61-app-ghostunnel-watch.yaml", "Deployment", "echo-watch");

        // The same two containers; only the certificates volume has a prefixed name, as it joins other pods' volumes.
        var fromComponent = Canonical(Manifest.Get(Manifest.PodSpec(deployment), "initContainers")).Replace("\"spiffe-certs\"", "\"certs\"", StringComparison.Ordinal);
        var fromWalkthrough = Canonical(Manifest.Get(Manifest.PodSpec(walkthrough), "initContainers"));

        Assert.Equal(fromWalkthrough, fromComponent);
        var labels = Manifest.Get(deployment, "spec", "template", "metadata", "labels");
        Assert.Equal("true", Manifest.Text(labels, "spiffe.io/spiffe-id"));
        Assert.Equal("sidecar", Manifest.Text(labels, "spiffe.io/spiffe-helper"));
        // The generated ConfigMap's hashed name is what the pod mounts.
        var configMap = Assert.Single(documents, d => Manifest.Text(d, "kind") == "ConfigMap");
        Assert.StartsWith("spiffe-helper-", Manifest.Text(configMap, "metadata", "name"), StringComparison.Ordinal);
        Assert.Equal(Manifest.Text(configMap, "metadata", "name"), Manifest.Text(Manifest.Volume(Manifest.PodSpec(deployment), "spiffe-helper-config"), "configMap", "name"));
    }

    [Fact]
    public async Task Base_Rendered_HasTheTestedAlertRulesAndAPodMonitorOfTheSidecarsPods()
    {
        using var rendered = await RenderAsync("spiffe-helper");
        var documents = await ManifestValidator.DumpFileAsync(rendered.Path);
        var tested = Assert.Single(await ManifestValidator.ReadDocumentsAsync(Path.Combine("..", "prometheus", "spiffe-helper.rules.yaml")));

        Assert.Equal(["ConfigMap", "PodMonitor", "PrometheusRule"], documents.Select(d => Manifest.Text(d, "kind")!).Order(StringComparer.Ordinal));
        var rule = Assert.Single(documents, d => Manifest.Text(d, "kind") == "PrometheusRule");
        Assert.Equal(Canonical(Manifest.Get(tested, "groups")), Canonical(Manifest.Get(rule, "spec", "groups")));
        var monitor = Assert.Single(documents, d => Manifest.Text(d, "kind") == "PodMonitor");
        Assert.Equal("sidecar", Manifest.Text(monitor, "spec", "selector", "matchLabels", "spiffe.io/spiffe-helper"));
        var helperConf = Manifest.Text(Assert.Single(documents, d => Manifest.Text(d, "kind") == "ConfigMap"), "data", "helper.conf")!;
        var parsed = SpiffeHelper.Config.ConfigLoader.Parse(helperConf, "/etc/spiffe-helper/helper.conf", _ => null, daemonModeOverride: null, "/");
        Assert.True(parsed.Succeeded, string.Join(Environment.NewLine, parsed.Errors));
        Assert.Equal(new SpiffeHelper.Config.HealthOptions(true, 8088, "/live", "/ready"), parsed.Options!.Health);
    }

    /// <summary>JSON with every object's keys in order: kustomize sorts keys, the hand-written files do not.</summary>
    private static string Canonical(JsonElement element) => Sort(JsonNode.Parse(element.GetRawText()))?.ToJsonString() ?? "null";

    private static JsonNode? Sort(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Sort(p.Value?.DeepClone())))),
        JsonArray a => new JsonArray([.. a.Select(i => Sort(i?.DeepClone()))]),
        _ => node?.DeepClone(),
    };

    /// <summary>Runs <c>kubectl kustomize</c> on a directory of examples/kustomize into a temporary file.</summary>
    private static async Task<RenderedFile> RenderAsync(string directory)
    {
        var start = new ProcessStartInfo("kubectl") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add("kustomize");
        start.ArgumentList.Add(Path.Combine(KustomizeDirectory, directory));
        using var process = Process.Start(start) ?? throw new InvalidOperationException("kubectl did not start");
        using var deadline = new CancellationTokenSource(Timeout);
        var output = process.StandardOutput.ReadToEndAsync(deadline.Token);
        var error = process.StandardError.ReadToEndAsync(deadline.Token);
        await process.WaitForExitAsync(deadline.Token);
        Assert.True(process.ExitCode == 0, $"kubectl kustomize {directory}: {await error}");
        var file = new RenderedFile(Path.Combine(Path.GetTempPath(), $"kustomize-{directory}-{Guid.NewGuid():N}.yaml"));
        await File.WriteAllTextAsync(file.Path, await output);
        return file;
    }

    private sealed record RenderedFile(string Path) : IDisposable
    {
        public void Dispose() => File.Delete(Path);
    }
}
