using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Spiffe.Testing;

namespace SpiffeHelper.Tests;

/// <summary>A temporary directory removed (and made mutable again) at the end of a test.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "helper-test-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    public void Dispose()
    {
        try
        {
            Posix.Run("chattr", "-R", "-i", Path);
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal static class Posix
{
    public static int Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        process.WaitForExit(10_000);
        return process.ExitCode;
    }

    /// <summary>Makes a directory impossible to write into, even for root (chattr +i), or undoes it.</summary>
    public static void SetImmutable(string path, bool immutable)
    {
        if (Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root" || IsRoot())
        {
            Assert.Equal(0, Run("chattr", immutable ? "+i" : "-i", path));
        }
        else
        {
            File.SetUnixFileMode(path, immutable ? UnixFileMode.UserRead | UnixFileMode.UserExecute : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static bool IsRoot() => File.ReadAllText("/proc/self/status").Contains("Uid:\t0\t", StringComparison.Ordinal);
}

internal static class Wait
{
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(20);

    /// <summary>Polls <paramref name="condition"/> until true; fails the test with <paramref name="what"/> on timeout.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? Default;
        while (!condition())
        {
            if (deadline.Elapsed > limit)
            {
                Assert.Fail($"timed out after {limit.TotalSeconds} s waiting for: {what}");
            }

            await Task.Delay(25);
        }
    }
}

/// <summary>A helper run in-process against a fake Workload API, stopped (like SIGTERM) on dispose.</summary>
internal sealed class InProcessHelper : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop;

    private InProcessHelper(string certDir, CancellationTokenSource stop, Func<CancellationToken, Task<int>> run, StringWriter error)
    {
        CertDir = certDir;
        _stop = stop;
        Error = error;
        Run = Task.Run(() => run(stop.Token));
    }

    public string CertDir { get; }

    public Task<int> Run { get; }

    public StringWriter Error { get; }

    public static InProcessHelper Start(TempDir dir, string configBody, IReadOnlyDictionary<string, string>? environment = null, params string[] extraArgs)
    {
        var certDir = dir.Combine("certs");
        var config = dir.Combine("helper.conf");
        File.WriteAllText(config, $"cert_dir = \"{certDir}\"\n" + configBody);
        var error = new StringWriter();
        var env = new HelperEnvironment(
            name => environment is not null && environment.TryGetValue(name, out var v) ? v : null,
            dir.Path,
            TextWriter.Null,
            error,
            TimeProvider.System,
            NullLoggerFactory.Instance);
        return new InProcessHelper(certDir, new CancellationTokenSource(), token => HelperApp.RunAsync(["-config", config, .. extraArgs], env, token), error);
    }

    public string PathOf(string name) => System.IO.Path.Combine(CertDir, name);

    public async Task<int> StopAsync()
    {
        await _stop.CancelAsync();
        return await Run.WaitAsync(Wait.Default);
    }

    public async ValueTask DisposeAsync()
    {
        if (!Run.IsCompleted)
        {
            await StopAsync();
        }

        _stop.Dispose();
    }
}

/// <summary>Test identities and the config text that writes them.</summary>
internal static class Scenario
{
    public const string X509Outputs = "svid_file_name = \"svid.pem\"\nsvid_key_file_name = \"svid_key.pem\"\nsvid_bundle_file_name = \"bundle.pem\"\n";

    public static string AgentConfig(FakeWorkloadApi api) => $"agent_address = \"{api.Address}\"\n" + X509Outputs;

    /// <summary>Whether the certificate and key files on disk belong together (and are both present).</summary>
    public static bool PairMatches(string certPath, string keyPath, out string? problem)
    {
        try
        {
            var cert = File.ReadAllText(certPath);
            var key = File.ReadAllText(keyPath);
            using var svid = Spiffe.X509.X509Svid.ParsePem(cert, key);
            problem = null;
            return true;
        }
        catch (Exception e) when (e is Spiffe.X509.X509SvidException or IOException)
        {
            problem = e.Message;
            return false;
        }
    }

    public static string LeafPem(TestSvid svid) => Spiffe.X509.Pem.EncodeCertificates([svid.Leaf]);

    public static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);
}
