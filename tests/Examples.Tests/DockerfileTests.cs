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

        Assert.Contains("IMAGE_TAG=0.1.0 bash scripts/build-image.sh", readme, StringComparison.Ordinal);
        Assert.Contains("kind load docker-image spiffe-helper:0.1.0", readme, StringComparison.Ordinal);
    }

    /// <summary>The lines of one build stage, from its FROM to the next.</summary>
    private static List<string> Stage(string name)
    {
        var start = Array.FindIndex(Lines, l => l.StartsWith("FROM ", StringComparison.Ordinal) && l.EndsWith(" AS " + name, StringComparison.Ordinal));
        Assert.True(start >= 0, $"no stage {name}");
        return [.. Lines.Skip(start).TakeWhile((l, i) => i == 0 || !l.StartsWith("FROM ", StringComparison.Ordinal)).Where(l => l.Length > 0 && !l.StartsWith('#'))];
    }
}
