using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;

namespace Examples.Tests;

/// <summary>The result of one run of the Node.js validator.</summary>
internal sealed record ValidatorRun(int ExitCode, string StandardOutput, string StandardError);

/// <summary>
/// Runs tools/manifest-validation/validate.mjs, the offline schema check of examples/kubernetes, and
/// finds the repository's files. Every run is bounded by <see cref="Timeout"/>.
/// </summary>
internal static class ManifestValidator
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string ExamplesDirectory { get; } = Path.Combine(RepositoryRoot, "examples", "kubernetes");

    public static string CrdDirectory { get; } = Path.Combine(ExamplesDirectory, "crds");

    private static string ToolDirectory { get; } = Path.Combine(RepositoryRoot, "tools", "manifest-validation");

    /// <summary>Every manifest of the example, relative to examples/kubernetes.</summary>
    public static IReadOnlyList<string> ExampleManifests() =>
        Directory.EnumerateFiles(ExamplesDirectory, "*.yaml", SearchOption.AllDirectories)
            .Select(path => Path.GetRelativePath(ExamplesDirectory, path))
            .Order(StringComparer.Ordinal)
            .ToList();

    /// <summary>Validates files against the Kubernetes schemas and the example's CRDs.</summary>
    public static Task<ValidatorRun> ValidateAsync(params string[] files) =>
        RunAsync(["--crds", CrdDirectory, .. files]);

    /// <summary>The table of what each program needs at run time (tools/manifest-validation/runtime-needs.yaml).</summary>
    public static string RuntimeNeedsFile { get; } = Path.Combine(ToolDirectory, "runtime-needs.yaml");

    /// <summary>Validates files against the schemas and, all together, against the programs' run-time needs.</summary>
    public static Task<ValidatorRun> ValidateWithRuntimeNeedsAsync(IEnumerable<string> files) =>
        RunAsync(["--crds", CrdDirectory, "--needs", RuntimeNeedsFile, .. files]);

    /// <summary>The documents of any YAML file (not only the example's), as the validator parses them.</summary>
    public static async Task<IReadOnlyList<JsonElement>> DumpFileAsync(string path)
    {
        var run = await RunAsync(["--dump", path]);
        Assert.True(run.ExitCode == 0, $"cannot read {path}: {run.StandardError}");
        using var json = JsonDocument.Parse(run.StandardOutput);
        return json.RootElement.EnumerateArray().Select(element => element.Clone()).ToList();
    }

    /// <summary>Validates YAML text written to a temporary file.</summary>
    public static async Task<ValidatorRun> ValidateTextAsync(string yaml)
    {
        var file = Path.Combine(Path.GetTempPath(), $"manifest-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(file, yaml);
        try
        {
            return await ValidateAsync(file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static readonly ConcurrentDictionary<string, Task<IReadOnlyList<JsonElement>>> Documents = new();

    /// <summary>The documents of an example file, as parsed by the validator's YAML parser (read once).</summary>
    public static Task<IReadOnlyList<JsonElement>> ReadDocumentsAsync(string relativePath) =>
        Documents.GetOrAdd(relativePath, DumpAsync);

    private static async Task<IReadOnlyList<JsonElement>> DumpAsync(string relativePath)
    {
        var run = await RunAsync(["--dump", Path.Combine(ExamplesDirectory, relativePath)]);
        Assert.True(run.ExitCode == 0, $"cannot read {relativePath}: {run.StandardError}");
        using var json = JsonDocument.Parse(run.StandardOutput);
        return json.RootElement.EnumerateArray().Select(element => element.Clone()).ToList();
    }

    private static async Task<ValidatorRun> RunAsync(IEnumerable<string> arguments)
    {
        var script = Path.Combine(ToolDirectory, "validate.mjs");
        Assert.True(
            Directory.Exists(Path.Combine(ToolDirectory, "node_modules")),
            "tools/manifest-validation/node_modules is missing: run scripts/install-test-deps.sh");

        var start = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = RepositoryRoot,
        };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        using var timeout = new CancellationTokenSource(Timeout);
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
            return new ValidatorRun(process.ExitCode, await output, await error);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the manifest validator did not finish within {Timeout}");
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SpiffeHelper.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("SpiffeHelper.sln not found above the test assembly");
    }
}
