namespace Spiffe.Testing;

/// <summary>
/// The Native AOT <c>spiffe-helper</c> binary: the one named by <c>SPIFFE_HELPER_BINARY</c> (scripts/test.sh
/// publishes it once before the tests), else published here once per test run (a minute or two).
/// </summary>
public static class PublishedHelperBinary
{
    public const string Variable = "SPIFFE_HELPER_BINARY";

    private static readonly Lazy<string> Location = new(Locate, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Get() => Location.Value;

    private static string Locate()
    {
        var configured = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrEmpty(configured))
        {
            return File.Exists(configured) ? configured : throw new FileNotFoundException($"{Variable} names {configured}, which does not exist");
        }

        var output = Path.Combine(ProcessRunner.RepositoryRoot, "artifacts", "publish", "spiffe-helper");
        var publish = ProcessRunner.RunAsync(
            "dotnet",
            ["publish", Path.Combine(ProcessRunner.RepositoryRoot, "src", "SpiffeHelper"), "-c", "Release", "-r", "linux-x64", "-o", output, "-nologo"],
            TimeSpan.FromMinutes(5)).GetAwaiter().GetResult();
        return publish.ExitCode == 0
            ? Path.Combine(output, "spiffe-helper")
            : throw new InvalidOperationException("dotnet publish of spiffe-helper failed: " + publish);
    }
}
