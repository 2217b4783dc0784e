using System.Globalization;
using System.Text.RegularExpressions;

namespace Examples.Tests;

/// <summary>
/// The SPIRE side of the example against the seed's common mistakes and security risks: the agent a
/// DaemonSet with hostPID (never a sidecar), one k8s_psat cluster name everywhere, TokenReview RBAC,
/// the spire-bundle ConfigMap before the agents, persistent server storage, a scoped ClusterSPIFFEID.
/// </summary>
public sealed partial class SpireDeploymentPolicyTests
{
    private const string ServerFile = "12-spire-server.yaml";
    private const string AgentFile = "20-spire-agent.yaml";

    [Fact]
    public async Task SpireAgent_Workload_IsADaemonSetWithHostPid()
    {
        var agent = await Manifest.SingleAsync(AgentFile, "DaemonSet", "spire-agent");

        Assert.True(Manifest.Flag(Manifest.PodSpec(agent), "hostPID"), "hostPID");
    }

    [Fact]
    public async Task SpireAgent_AllManifests_RunsNowhereButItsDaemonSet()
    {
        var withAgent = (await Manifest.AllAsync())
            .Where(Manifest.IsWorkload)
            .Where(w => Manifest.AllContainers(Manifest.PodSpec(w)).Any(c => Manifest.Text(c, "image")!.StartsWith("ghcr.io/spiffe/spire-agent:", StringComparison.Ordinal)))
            .Select(w => $"{Manifest.Text(w, "kind")}/{Manifest.Text(w, "metadata", "name")}");

        Assert.Equal(["DaemonSet/spire-agent"], withAgent);
    }

    [Fact]
    public async Task K8sPsatClusterName_ServerAgentAndControllerManager_AreTheSame()
    {
        var serverConf = await ServerConfAsync();
        var agentConf = await AgentConfAsync();
        var controllerConf = await EmbeddedFileAsync(ServerFile, "spire-controller-manager", "controller-manager-config.yaml");

        var serverClusters = ServerClusters().Matches(serverConf).Select(m => m.Groups[1].Value).ToList();
        var agentCluster = AgentCluster().Match(agentConf);
        var controllerCluster = ControllerCluster().Match(controllerConf);

        var cluster = Assert.Single(serverClusters);
        Assert.True(agentCluster.Success, "the agent's k8s_psat cluster");
        Assert.True(controllerCluster.Success, "the controller manager's clusterName");
        Assert.Equal(cluster, agentCluster.Groups[1].Value);
        Assert.Equal(cluster, controllerCluster.Groups[1].Value);
    }

    [Fact]
    public async Task TrustDomain_ServerAgentAndControllerManager_AreTheSame()
    {
        var serverConf = await ServerConfAsync();
        var agentConf = await AgentConfAsync();
        var controllerConf = await EmbeddedFileAsync(ServerFile, "spire-controller-manager", "controller-manager-config.yaml");

        var domain = TrustDomain().Match(serverConf).Groups[1].Value;

        Assert.Equal("example.org", domain);
        Assert.Equal(domain, TrustDomain().Match(agentConf).Groups[1].Value);
        Assert.Contains($"trustDomain: {domain}\n", controllerConf, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerRbac_ServerAccount_MayCreateTokenReviews()
    {
        var role = await Manifest.SingleAsync("11-spire-server-rbac.yaml", "ClusterRole", "spire-server");
        var binding = await Manifest.SingleAsync("11-spire-server-rbac.yaml", "ClusterRoleBinding", "spire-server");
        var server = await Manifest.SingleAsync(ServerFile, "StatefulSet", "spire-server");

        Assert.Contains(Manifest.Items(role, "rules"), rule =>
            Manifest.Strings(rule, "apiGroups").Contains("authentication.k8s.io")
            && Manifest.Strings(rule, "resources").Contains("tokenreviews")
            && Manifest.Strings(rule, "verbs").Contains("create"));
        Assert.Equal("spire-server", Manifest.Text(binding, "roleRef", "name"));
        var subject = Assert.Single(Manifest.Items(binding, "subjects"));
        Assert.Equal("ServiceAccount", Manifest.Text(subject, "kind"));
        Assert.Equal(Manifest.Text(Manifest.PodSpec(server), "serviceAccountName"), Manifest.Text(subject, "name"));
        Assert.Equal(Manifest.Text(server, "metadata", "namespace"), Manifest.Text(subject, "namespace"));
    }

    [Fact]
    public async Task SpireBundle_ConfigMap_ExistsBeforeTheAgentsAndIsWhatTheNotifierAndAgentsUse()
    {
        var bundle = await Manifest.SingleAsync("10-spire-bundle.yaml", "ConfigMap", "spire-bundle");
        var serverConf = await ServerConfAsync();
        var agentConf = await AgentConfAsync();
        var agentPod = Manifest.PodSpec(await Manifest.SingleAsync(AgentFile, "DaemonSet", "spire-agent"));

        // Applied in file-name order: the ConfigMap comes before the agents.
        Assert.True(string.CompareOrdinal("10-spire-bundle.yaml", AgentFile) < 0);
        Assert.Equal("spire-system", Manifest.Text(bundle, "metadata", "namespace"));
        Assert.Matches(@"Notifier ""k8sbundle"" \{\s*plugin_data \{\s*namespace = ""spire-system""\s*config_map = ""spire-bundle""", serverConf);
        var volume = Assert.Single(Manifest.Items(agentPod, "volumes"), v => Manifest.Text(v, "configMap", "name") == "spire-bundle");
        var agent = Assert.Single(Manifest.Items(agentPod, "containers"));
        var mount = Assert.Single(Manifest.Items(agent, "volumeMounts"), m => Manifest.Text(m, "name") == Manifest.Text(volume, "name"));
        // The notifier writes the key bundle.crt.
        Assert.Contains($"trust_bundle_path = \"{Manifest.Text(mount, "mountPath")}/bundle.crt\"", agentConf, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SpireServer_StatefulSet_KeepsDatastoreAndKeysOnItsPersistentVolume()
    {
        var server = await Manifest.SingleAsync(ServerFile, "StatefulSet", "spire-server");
        var serverConf = await ServerConfAsync();

        var claim = Assert.Single(Manifest.Items(server, "spec", "volumeClaimTemplates"));
        var container = Assert.Single(Manifest.Items(Manifest.PodSpec(server), "containers"), c => Manifest.Text(c, "name") == "spire-server");
        var mount = Assert.Single(Manifest.Items(container, "volumeMounts"), m => Manifest.Text(m, "name") == Manifest.Text(claim, "metadata", "name"));
        var dataDir = Manifest.Text(mount, "mountPath");

        Assert.Contains($"data_dir = \"{dataDir}\"", serverConf, StringComparison.Ordinal);
        Assert.Contains($"connection_string = \"{dataDir}/datastore.sqlite3\"", serverConf, StringComparison.Ordinal);
        Assert.Contains($"keys_path = \"{dataDir}/keys.json\"", serverConf, StringComparison.Ordinal);
        Assert.Contains("database_type = \"sqlite3\"", serverConf, StringComparison.Ordinal);
    }

    [Fact]
    public async Task WorkloadApiSocket_AgentAndCsiDriver_ShareOneNodeDirectory()
    {
        var agentConf = await AgentConfAsync();
        var agentPod = Manifest.PodSpec(await Manifest.SingleAsync(AgentFile, "DaemonSet", "spire-agent"));
        var driverPod = Manifest.PodSpec(await Manifest.SingleAsync("30-spiffe-csi-driver.yaml", "DaemonSet", "spiffe-csi-driver"));
        var csiDriver = await Manifest.SingleAsync("30-spiffe-csi-driver.yaml", "CSIDriver", "csi.spiffe.io");

        const string socketDirectory = "/run/spire/agent-sockets";
        Assert.Contains($"socket_path = \"{socketDirectory}/spire-agent.sock\"", agentConf, StringComparison.Ordinal);
        var agentVolume = Assert.Single(Manifest.Items(agentPod, "volumes"), v => Manifest.Text(v, "hostPath", "path") == socketDirectory);
        var agent = Assert.Single(Manifest.Items(agentPod, "containers"));
        Assert.Equal(socketDirectory, Manifest.Text(Assert.Single(Manifest.Items(agent, "volumeMounts"), m => Manifest.Text(m, "name") == Manifest.Text(agentVolume, "name")), "mountPath"));

        var driverVolume = Assert.Single(Manifest.Items(driverPod, "volumes"), v => Manifest.Text(v, "hostPath", "path") == socketDirectory);
        var driver = Assert.Single(Manifest.Items(driverPod, "containers"), c => Manifest.Text(c, "name") == "spiffe-csi-driver");
        var driverMount = Assert.Single(Manifest.Items(driver, "volumeMounts"), m => Manifest.Text(m, "name") == Manifest.Text(driverVolume, "name"));
        Assert.True(Manifest.Flag(driverMount, "readOnly"), "the driver only reads the agent's directory");
        var args = Manifest.Strings(driver, "args").ToList();
        Assert.Equal(Manifest.Text(driverMount, "mountPath"), args[args.IndexOf("-workload-api-socket-dir") + 1]);

        Assert.False(Manifest.Flag(csiDriver, "spec", "attachRequired"));
        Assert.True(Manifest.Flag(csiDriver, "spec", "podInfoOnMount"));
        Assert.Equal(["Ephemeral"], Manifest.Strings(csiDriver, "spec", "volumeLifecycleModes"));
    }

    [Theory]
    [InlineData(ServerFile, "StatefulSet", "spire-server", "server.conf")]
    [InlineData(AgentFile, "DaemonSet", "spire-agent", "agent.conf")]
    public async Task Probes_SpireServerAndAgent_PointAtTheirHealthListener(string file, string kind, string name, string configKey)
    {
        var workload = await Manifest.SingleAsync(file, kind, name);
        var conf = await EmbeddedFileAsync(file, name, configKey);
        var container = Assert.Single(Manifest.Items(Manifest.PodSpec(workload), "containers"), c => Manifest.Text(c, "name") == name);

        var health = HealthChecks().Match(conf);

        Assert.True(health.Success, "a health_checks block with listener_enabled = true");
        var port = int.Parse(health.Groups["port"].Value, CultureInfo.InvariantCulture);
        var liveness = Manifest.Get(container, "livenessProbe", "httpGet");
        var readiness = Manifest.Get(container, "readinessProbe", "httpGet");
        Assert.Equal(port, Manifest.Port(container, Manifest.Get(liveness, "port")));
        Assert.Equal(port, Manifest.Port(container, Manifest.Get(readiness, "port")));
        Assert.Equal(health.Groups["live"].Value, Manifest.Text(liveness, "path"));
        Assert.Equal(health.Groups["ready"].Value, Manifest.Text(readiness, "path"));
    }

    [Fact]
    public async Task ClusterSpiffeId_Selectors_NameTheNamespacesAndRequireAPodLabel()
    {
        var id = await Manifest.SingleAsync("40-cluster-spiffeid.yaml", "ClusterSPIFFEID");
        var namespaces = (await ManifestValidator.ReadDocumentsAsync("00-namespaces.yaml")).Select(n => Manifest.Text(n, "metadata", "name")).ToList();

        var namespaceSelector = Manifest.Get(id, "spec", "namespaceSelector");
        var expression = Assert.Single(Manifest.Items(namespaceSelector, "matchExpressions"));
        Assert.Equal("kubernetes.io/metadata.name", Manifest.Text(expression, "key"));
        Assert.Equal("In", Manifest.Text(expression, "operator"));
        var selected = Manifest.Strings(expression, "values").ToList();
        Assert.NotEmpty(selected);
        Assert.All(selected, ns => Assert.Contains(ns, namespaces));
        Assert.DoesNotContain("spire-system", selected);
        var podLabels = Manifest.Get(id, "spec", "podSelector", "matchLabels");
        Assert.NotEmpty(podLabels.EnumerateObject());
    }

    [Theory]
    [InlineData("60-app-nginx-signal.yaml")]
    [InlineData("61-app-ghostunnel-watch.yaml")]
    public async Task ClusterSpiffeId_ApplicationPods_AreSelected(string file)
    {
        var id = await Manifest.SingleAsync("40-cluster-spiffeid.yaml", "ClusterSPIFFEID");
        var deployment = await Manifest.SingleAsync(file, "Deployment");

        var selected = Manifest.Strings(Assert.Single(Manifest.Items(id, "spec", "namespaceSelector", "matchExpressions")), "values");
        Assert.Contains(Manifest.Text(deployment, "metadata", "namespace"), selected);
        foreach (var label in Manifest.Get(id, "spec", "podSelector", "matchLabels").EnumerateObject())
        {
            Assert.Equal(label.Value.GetString(), Manifest.Text(deployment, "spec", "template", "metadata", "labels", label.Name));
        }
    }

    [Fact]
    public async Task Images_AllWorkloads_ArePinnedToAVersion()
    {
        var images = (await Manifest.AllAsync())
            .Where(Manifest.IsWorkload)
            .SelectMany(w => Manifest.AllContainers(Manifest.PodSpec(w)))
            .Select(c => Manifest.Text(c, "image")!)
            .Distinct()
            .ToList();

        Assert.Contains(images, i => i.StartsWith("ghcr.io/spiffe/spire-server:", StringComparison.Ordinal));
        Assert.Contains(images, i => i.StartsWith("ghcr.io/spiffe/spire-controller-manager:", StringComparison.Ordinal));
        Assert.Contains(images, i => i.StartsWith("ghcr.io/spiffe/spiffe-csi-driver:", StringComparison.Ordinal));
        Assert.All(images, image => Assert.Matches(@":v?\d+\.\d+\.\d+(-[a-z0-9]+)?$", image));
    }

    private static Task<string> ServerConfAsync() => EmbeddedFileAsync(ServerFile, "spire-server", "server.conf");

    private static Task<string> AgentConfAsync() => EmbeddedFileAsync(AgentFile, "spire-agent", "agent.conf");

    /// <summary>A configuration file held in a ConfigMap's data.</summary>
    private static async Task<string> EmbeddedFileAsync(string file, string configMap, string key) =>
        Manifest.Text(await Manifest.SingleAsync(file, "ConfigMap", configMap), "data", key)
        ?? throw new KeyNotFoundException($"{file}: ConfigMap {configMap} has no {key}");

    [GeneratedRegex(@"""([^""]+)""\s*=\s*\{\s*service_account_allow_list")]
    private static partial Regex ServerClusters();

    [GeneratedRegex(@"NodeAttestor ""k8s_psat"" \{\s*plugin_data \{\s*cluster = ""([^""]+)""")]
    private static partial Regex AgentCluster();

    [GeneratedRegex(@"(?m)^clusterName: (\S+)$")]
    private static partial Regex ControllerCluster();

    [GeneratedRegex(@"health_checks \{\s*listener_enabled = true\s*bind_address = ""[^""]+""\s*bind_port = ""(?<port>\d+)""\s*live_path = ""(?<live>[^""]+)""\s*ready_path = ""(?<ready>[^""]+)""")]
    private static partial Regex HealthChecks();

    [GeneratedRegex(@"trust_domain = ""([^""]+)""")]
    private static partial Regex TrustDomain();
}
