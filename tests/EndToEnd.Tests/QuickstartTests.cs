using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Spiffe.Testing;

namespace EndToEnd.Tests;

/// <summary>
/// scripts/quickstart.sh run as a user runs it, in its own QUICKSTART_DIR with free ports. Its bin/ is laid
/// out beforehand (minispire.dll behind a wrapper, the published helper), newer than every source file, so
/// the script's incremental build check skips publishing; everything else is the script's own work.
/// </summary>
public sealed class QuickstartTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private readonly string _home = Directory.CreateTempSubdirectory("quickstart-").FullName;

    private string Work => Path.Combine(_home, "qs");

    public void Dispose()
    {
        try
        {
            Directory.Delete(_home, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task SecondRun_WhileOneRuns_SaysSoAndExitsNonZero_TheFirstKeepsRotating()
    {
        await LayOutBinariesAsync();
        var (serverPort, healthPort) = (FreePort(), FreePort());
        using var first = Start(serverPort, healthPort, rotations: 2);
        var firstOutput = Capture(first);
        await WaitForAsync(() => firstOutput.ToString().Contains("first SVID", StringComparison.Ordinal), first, firstOutput);
        var socket = Path.Combine(Work, "server", "api.sock");
        Assert.True(File.Exists(socket), firstOutput.ToString());

        var started = Stopwatch.StartNew();
        var second = await ProcessRunner.RunAsync("bash", [Script], Timeout, environment: Environment(FreePort(), FreePort(), 1));

        Assert.Equal(1, second.ExitCode);
        Assert.Contains("another quickstart is running", second.StandardError, StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(20), $"the second run took {started.Elapsed}");
        Assert.True(File.Exists(socket), "the second run deleted the first one's server socket");
        Assert.True(File.Exists(Path.Combine(Work, "certs", "svid.pem")), "the second run deleted the first one's certificates");

        // The first goes on rotating, then stops by itself after its two rotations.
        using var deadline = new CancellationTokenSource(Timeout);
        await first.WaitForExitAsync(deadline.Token);
        var text = firstOutput.ToString();
        Assert.True(first.ExitCode == 0, text);
        Assert.Contains("rotation 2:", text, StringComparison.Ordinal);
        Assert.Matches(@"rotation 1: .*key matches, \d+ s after the previous", text);
    }

    [Fact]
    public async Task TakenPort_NamesTheVariableThatMovesIt()
    {
        await LayOutBinariesAsync();
        using var occupier = new TcpListener(IPAddress.Loopback, 0);
        occupier.Start();
        var taken = ((IPEndPoint)occupier.LocalEndpoint).Port;

        var run = await ProcessRunner.RunAsync("bash", [Script], Timeout, environment: Environment(taken, FreePort(), 1));

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"port {taken} is taken; set QUICKSTART_SERVER_PORT to a free port", run.StandardError, StringComparison.Ordinal);
    }

    private static string Script => Path.Combine(ProcessRunner.RepositoryRoot, "scripts", "quickstart.sh");

    private Dictionary<string, string?> Environment(int serverPort, int healthPort, int rotations) => new()
    {
        ["QUICKSTART_DIR"] = Work,
        ["QUICKSTART_SERVER_PORT"] = serverPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["QUICKSTART_HEALTH_PORT"] = healthPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["QUICKSTART_ROTATIONS"] = rotations.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private Process Start(int serverPort, int healthPort, int rotations)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = ProcessRunner.RepositoryRoot };
        info.ArgumentList.Add(Script);
        foreach (var (key, value) in Environment(serverPort, healthPort, rotations))
        {
            info.Environment[key] = value;
        }

        return Process.Start(info) ?? throw new InvalidOperationException("quickstart did not start");
    }

    private static StringBuilder Capture(Process process)
    {
        var output = new StringBuilder();
        void Add(string? line)
        {
            if (line is not null)
            {
                lock (output)
                {
                    output.AppendLine(line);
                }
            }
        }

        process.OutputDataReceived += (_, e) => Add(e.Data);
        process.ErrorDataReceived += (_, e) => Add(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return output;
    }

    private static async Task WaitForAsync(Func<bool> condition, Process process, StringBuilder output)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.False(process.HasExited, "quickstart exited:\n" + output);
            Assert.True(deadline.Elapsed < Timeout, "quickstart did not get there:\n" + output);
            await Task.Delay(200);
        }
    }

    private async Task LayOutBinariesAsync()
    {
        var minispire = Directory.CreateDirectory(Path.Combine(Work, "bin", "minispire")).FullName;
        var wrapper = Path.Combine(minispire, "minispire");
        await File.WriteAllTextAsync(wrapper, $"#!/bin/sh\nexec dotnet {Path.Combine(AppContext.BaseDirectory, "minispire.dll")} \"$@\"\n");
        File.SetUnixFileMode(wrapper, (UnixFileMode)0b111_101_101);
        var helper = Directory.CreateDirectory(Path.Combine(Work, "bin", "spiffe-helper")).FullName;
        File.CreateSymbolicLink(Path.Combine(helper, "spiffe-helper"), PublishedHelperBinary.Get());
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
