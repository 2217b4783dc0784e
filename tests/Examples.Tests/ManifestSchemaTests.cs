namespace Examples.Tests;

/// <summary>
/// Every manifest of examples/kubernetes passes the Kubernetes schemas offline, and the validator
/// really rejects what the API server would reject.
/// </summary>
public sealed class ManifestSchemaTests
{
    private const string Deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: app
          namespace: spiffe-demo
        spec:
          replicas: 1
          selector:
            matchLabels:
              app: app
          template:
            metadata:
              labels:
                app: app
            spec:
              containers:
                - name: app
                  image: nginxinc/nginx-unprivileged:1.27.4-alpine
                  securityContext:
                    readOnlyRootFilesystem: true
        """;

    public static TheoryData<string> Manifests() => new(ManifestValidator.ExampleManifests());

    [Theory]
    [MemberData(nameof(Manifests))]
    public async Task Validate_ExampleManifest_PassesTheKubernetesSchemas(string manifest)
    {
        var run = await ManifestValidator.ValidateAsync(Path.Combine(ManifestValidator.ExamplesDirectory, manifest));

        Assert.True(run.ExitCode == 0, run.StandardError);
        Assert.Equal("", run.StandardError);
        Assert.StartsWith("ok ", run.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void ExampleManifests_Directory_HoldsEveryPartOfTheExample()
    {
        var manifests = ManifestValidator.ExampleManifests();

        string[] expected =
        [
            "00-namespaces.yaml", "10-spire-bundle.yaml", "11-spire-server-rbac.yaml", "12-spire-server.yaml",
            "20-spire-agent.yaml", "30-spiffe-csi-driver.yaml", "40-cluster-spiffeid.yaml",
            "50-spiffe-helper-config.yaml", "60-app-nginx-signal.yaml", "61-app-ghostunnel-watch.yaml",
            "70-podmonitor.yaml", "71-prometheusrule.yaml", Path.Combine("crds", "spire.spiffe.io_clusterspiffeids.yaml"),
        ];
        Assert.All(expected, file => Assert.Contains(file, manifests));
    }

    [Fact]
    public async Task Validate_ValidDeployment_Passes()
    {
        var run = await ManifestValidator.ValidateTextAsync(Deployment);

        Assert.True(run.ExitCode == 0, run.StandardError);
        Assert.Equal("", run.StandardError);
    }

    [Theory]
    [InlineData("  selector:\n    matchLabels:\n      app: app\n", "", "data/spec must have required property selector")]
    [InlineData("        - name: app\n", "        - tty: true\n", "data/spec/template/spec/containers/0 must have required property name")]
    [InlineData("  replicas: 1\n", "  replicas: \"two\"\n", "data/spec/replicas must be integer")]
    [InlineData("readOnlyRootFilesystem: true", "readOnlyRootFilesystem: \"yes\"", "readOnlyRootFilesystem must be boolean")]
    [InlineData("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true", "unknown field \"readOnlyRootFileSystem\"")]
    [InlineData("  replicas: 1\n", "  replica: 1\n", "data/spec/replica is not a field of this type")]
    [InlineData("  namespace: spiffe-demo\n", "  namespace: spiffe-demo\n  label: {}\n", "data/metadata/label is not a field of this type")]
    [InlineData("kind: Deployment", "kind: Deploymnet", "no schema known for apiVersion \"apps/v1\" kind \"Deploymnet\"")]
    [InlineData("  name: app\n", "", "data/metadata must have required property name")]
    public async Task Validate_BrokenDeployment_FailsWithThePath(string replace, string with, string expected)
    {
        Assert.Contains(replace, Deployment, StringComparison.Ordinal);
        var broken = Deployment.Replace(replace, with, StringComparison.Ordinal);

        var run = await ManifestValidator.ValidateTextAsync(broken);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains(expected, run.StandardError, StringComparison.Ordinal);
        Assert.Equal("", run.StandardOutput);
    }

    [Fact]
    public async Task Validate_ClusterSpiffeIdWithoutTemplateAndWithUnknownField_FailsAgainstTheCrd()
    {
        const string yaml = """
            apiVersion: spire.spiffe.io/v1alpha1
            kind: ClusterSPIFFEID
            metadata:
              name: broken
            spec:
              namespaceSelector:
                matchLabels:
                  team: 1
              podSelectr:
                matchLabels:
                  app: x
            """;

        var run = await ManifestValidator.ValidateTextAsync(yaml);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("data/spec must have required property 'spiffeIDTemplate'", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("data/spec/podSelectr is not a field of this type", run.StandardError, StringComparison.Ordinal);
        Assert.Contains("data/spec/namespaceSelector/matchLabels/team must be string", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_PodMonitorWithUnknownEndpointField_Fails()
    {
        const string yaml = """
            apiVersion: monitoring.coreos.com/v1
            kind: PodMonitor
            metadata:
              name: broken
            spec:
              selector:
                matchLabels:
                  app: x
              podMetricsEndpoints:
                - port: helper-http
                  metricsPath: /metrics
            """;

        var run = await ManifestValidator.ValidateTextAsync(yaml);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("data/spec/podMetricsEndpoints/0/metricsPath is not a field of this type", run.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Validate_InvalidYaml_FailsWithTheParserMessage()
    {
        var run = await ManifestValidator.ValidateTextAsync("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n data: {a: 1\n");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("YAML:", run.StandardError, StringComparison.Ordinal);
    }
}
