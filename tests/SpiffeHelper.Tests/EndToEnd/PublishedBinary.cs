using System.Diagnostics;

namespace SpiffeHelper.Tests.EndToEnd;

/// <summary>
/// The Native AOT <c>spiffe-helper</c> binary: the one in <c>SPIFFE_HELPER_BINARY</c> (scripts/test.sh
/// publishes it before the tests), else published once here (a minute or two).
/// </summary>
internal static class PublishedBinary
{
    public const string Variable = "SPIFFE_HELPER_BINARY";

    private static readonly Lazy<string> Path = new(Locate, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Get() => Path.Value;

    private static string Locate()
    {
        var configured = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrEmpty(configured))
        {
            Assert.True(File.Exists(configured), $"{Variable} names {configured}, which does not exist");
            return configured;
        }

        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(System.IO.Path.Combine(root.FullName, "SpiffeHelper.sln")))
        {
            root = root.Parent;
        }

        Assert.NotNull(root);
        var output = System.IO.Path.Combine(root.FullName, "artifacts", "publish", "spiffe-helper");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "publish", System.IO.Path.Combine(root.FullName, "src", "SpiffeHelper"), "-c", "Release", "-r", "linux-x64", "-o", output, "-nologo" })
        {
            start.ArgumentList.Add(arg);
        }

        using var publish = Process.Start(start)!;
        var stdout = publish.StandardOutput.ReadToEndAsync();
        var stderr = publish.StandardError.ReadToEndAsync();
        Assert.True(publish.WaitForExit(TimeSpan.FromMinutes(5)), "dotnet publish did not finish in 5 minutes");
        Assert.True(publish.ExitCode == 0, $"dotnet publish failed: {stdout.Result}{stderr.Result}");
        return System.IO.Path.Combine(output, "spiffe-helper");
    }
}

/// <summary>A helper run as a separate process, its output captured.</summary>
internal sealed class HelperProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;
    private readonly Task<string> _stdout;

    public HelperProcess(string binary, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(binary)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("SPIFFE_ENDPOINT_SOCKET");
        _process = Process.Start(start)!;
        _stderr = _process.StandardError.ReadToEndAsync();
        _stdout = _process.StandardOutput.ReadToEndAsync();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public async Task<(int ExitCode, string Stdout, string Stderr)> WaitAsync(TimeSpan? timeout = null)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout ?? Wait.Default);
        return (_process.ExitCode, await _stdout, await _stderr);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}
