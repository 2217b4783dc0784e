namespace Examples.Tests;

/// <summary>
/// What can be checked of the Dockerfile without a container engine: it builds with the same publish script
/// CI runs, and its images are non-root, shell-free and start the binary directly.
/// </summary>
public sealed class DockerfileTests
{
    private static readonly string[] Lines = File.ReadAllLines(Path.Combine(ManifestValidator.RepositoryRoot, "Dockerfile"));

    [Theory]
    [InlineData("spiffe-helper", "mcr.microsoft.com/dotnet/runtime-deps:${DOTNET_VERSION}-noble-chiseled", "ENTRYPOINT [\"/usr/local/bin/spiffe-helper\"]")]
    [InlineData("minispire", "mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}-noble-chiseled", "ENTRYPOINT [\"dotnet\", \"/app/minispire.dll\"]")]
    public void FinalStage_IsChiseledNonRootAndExecFormEntrypoint(string target, string baseImage, string entrypoint)
    {
        var stage = Stage(target);

        Assert.Equal($"FROM {baseImage} AS {target}", stage[0]);
        Assert.Contains(entrypoint, stage);
        var user = Assert.Single(stage, l => l.StartsWith("USER ", StringComparison.Ordinal));
        Assert.True(int.TryParse(user["USER ".Length..], out var uid) && uid > 0, $"{target} must run as a numeric non-root user, not \"{user}\"");
        Assert.DoesNotContain(stage, l => l.StartsWith("RUN ", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("publish-helper", "scripts/publish.sh spiffe-helper /out")]
    [InlineData("publish-minispire", "scripts/publish.sh minispire /out")]
    public void PublishStages_RunTheScriptCiRuns(string stage, string command)
    {
        Assert.Contains(Stage(stage), l => l.StartsWith("RUN ", StringComparison.Ordinal) && l.Contains(command, StringComparison.Ordinal));
        Assert.Contains("bash scripts/publish.sh spiffe-helper", File.ReadAllText(Path.Combine(ManifestValidator.RepositoryRoot, "scripts", "test.sh")), StringComparison.Ordinal);
    }

    [Fact]
    public void LastStage_IsTheHelper_SoAPlainBuildGivesIt()
    {
        var lastFrom = Lines.Last(l => l.StartsWith("FROM ", StringComparison.Ordinal));

        Assert.EndsWith(" AS spiffe-helper", lastFrom, StringComparison.Ordinal);
    }

    [Fact]
    public void HelperImage_NamedInTheManifests_IsWhatTheReadmeBuilds()
    {
        var readme = File.ReadAllText(Path.Combine(ManifestValidator.ExamplesDirectory, "README.md"));

        Assert.Contains("IMAGE_TAG=0.2.0 bash scripts/build-image.sh", readme, StringComparison.Ordinal);
        Assert.Contains("kind load docker-image spiffe-helper:0.2.0", readme, StringComparison.Ordinal);
        // Without docker the script saves the assembled image as an archive for kind.
        Assert.Contains("kind load image-archive artifacts/image/spiffe-helper-0.2.0.docker.tar", readme, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HelperImageTag_InEveryManifest_IsTheBuildsVersion()
    {
        var props = File.ReadAllText(Path.Combine(ManifestValidator.RepositoryRoot, "Directory.Build.props"));
        var version = props[(props.IndexOf("<Version>", StringComparison.Ordinal) + "<Version>".Length)..props.IndexOf("</Version>", StringComparison.Ordinal)];
        var images = (await Manifest.AllAsync())
            .Where(Manifest.IsWorkload)
            .SelectMany(w => Manifest.AllContainers(Manifest.PodSpec(w)))
            .Select(c => Manifest.Text(c, "image")!)
            .Where(i => i.StartsWith("spiffe-helper:", StringComparison.Ordinal))
            .Distinct()
            .ToList();
        var component = File.ReadAllText(Path.Combine(ManifestValidator.RepositoryRoot, "examples", "kustomize", "sidecar", "helper-containers.yaml"));

        Assert.Equal([$"spiffe-helper:{version}"], images);
        Assert.Equal(2, component.Split($"image: spiffe-helper:{version}\n").Length - 1);
    }

    /// <summary>`docker build --target spiffe-helper .` needs nothing built on the host: every input comes from the context.</summary>
    [Fact]
    public void Dockerfile_BuildsInsideTheSdkStage_AndTheContextHoldsNoHostBuildOutput()
    {
        var copies = Lines.Where(l => l.StartsWith("COPY ", StringComparison.Ordinal)).ToList();
        var ignored = File.ReadAllLines(Path.Combine(ManifestValidator.RepositoryRoot, ".dockerignore"));

        Assert.Equal("COPY . .", Assert.Single(copies, c => !c.StartsWith("COPY --from=", StringComparison.Ordinal) && !c.StartsWith("COPY LICENSE", StringComparison.Ordinal)));
        Assert.All(copies.Where(c => c.StartsWith("COPY --from=", StringComparison.Ordinal)), c => Assert.Matches(@"^COPY --from=publish-(helper|minispire) /out", c));
        Assert.Equal("FROM build AS publish-helper", Stage("publish-helper")[0]);
        Assert.Contains(Stage("publish-helper"), l => l.StartsWith("RUN SourceRevisionId=\"$SOURCE_REVISION_ID\"", StringComparison.Ordinal));
        Assert.Contains("artifacts", ignored);
        Assert.Contains("**/bin", ignored);
        Assert.Contains("**/obj", ignored);
        Assert.Contains(".git", ignored);
    }

    /// <summary>build-image.sh hands docker (or podman with the base images) the Dockerfile before it publishes anything.</summary>
    [Fact]
    public void BuildImageScript_WithAContainerEngine_UsesTheDockerfileWithoutAHostPublish()
    {
        var script = File.ReadAllLines(Path.Combine(ManifestValidator.RepositoryRoot, "scripts", "build-image.sh"));

        var engineBuild = Array.FindIndex(script, l => l.Contains("\"$mode\" build --build-arg \"SOURCE_REVISION_ID=$revision\" --target spiffe-helper", StringComparison.Ordinal));
        var firstPublish = Array.FindIndex(script, l => !l.TrimStart().StartsWith('#') && l.Contains("scripts/publish.sh", StringComparison.Ordinal));
        var engineExit = Array.FindIndex(script, engineBuild, l => l.Trim() == "exit 0");

        Assert.True(engineBuild > 0, "no docker/podman build of the Dockerfile");
        Assert.True(engineExit > engineBuild && engineExit < firstPublish, "the engine path must end before the host publish of the assembled image");
    }

    /// <summary>The lines of one build stage, from its FROM to the next.</summary>
    private static List<string> Stage(string name)
    {
        var start = Array.FindIndex(Lines, l => l.StartsWith("FROM ", StringComparison.Ordinal) && l.EndsWith(" AS " + name, StringComparison.Ordinal));
        Assert.True(start >= 0, $"no stage {name}");
        return [.. Lines.Skip(start).TakeWhile((l, i) => i == 0 || !l.StartsWith("FROM ", StringComparison.Ordinal)).Where(l => l.Length > 0 && !l.StartsWith('#'))];
    }
}
