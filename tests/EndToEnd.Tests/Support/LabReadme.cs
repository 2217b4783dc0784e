using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Spiffe.Testing;

namespace EndToEnd.Tests.Support;

/// <summary>
/// Runs a lab of examples/labs/README.md from the README's own shell blocks: the "Set up" section's second
/// terminal, then every <c>```sh</c> block of the lab, in one bash, against a <see cref="LocalMiniSpire"/>
/// laid out as the quickstart's <c>.quickstart</c> directory. Only the lab's fixed paths (/tmp/labN) and ports
/// are replaced by a temporary directory and free ports, so parallel runs do not collide.
/// </summary>
internal static class LabReadme
{
    public static string Path => System.IO.Path.Combine(ProcessRunner.RepositoryRoot, "examples", "labs", "README.md");

    /// <summary>The shell blocks of the section whose heading starts with <paramref name="heading"/>, dedented.</summary>
    public static IReadOnlyList<string> Blocks(string heading)
    {
        var lines = File.ReadAllLines(Path);
        var start = Array.FindIndex(lines, l => l.StartsWith("## " + heading, StringComparison.Ordinal));
        Assert.True(start >= 0, $"no \"## {heading}\" section in {Path}");
        var blocks = new List<string>();
        StringBuilder? block = null;
        var indent = 0;
        for (var i = start + 1; i < lines.Length && !lines[i].StartsWith("## ", StringComparison.Ordinal); i++)
        {
            var line = lines[i];
            if (block is null && line.TrimStart() == "```sh")
            {
                block = new StringBuilder();
                indent = line.Length - line.TrimStart().Length;
            }
            else if (block is not null && line.Trim() == "```")
            {
                blocks.Add(block.ToString());
                block = null;
            }
            else
            {
                block?.AppendLine(line.Length >= indent ? line[indent..] : line.TrimStart());
            }
        }

        Assert.NotEmpty(blocks);
        return blocks;
    }

    public static async Task<ProcessResult> RunAsync(LocalMiniSpire stack, string lab, TimeSpan timeout)
    {
        var home = Directory.CreateTempSubdirectory("lab-").FullName;
        File.SetUnixFileMode(home, (UnixFileMode)0b111_101_101);
        try
        {
            // What the quickstart leaves in .quickstart: the binaries under bin/ (the stack lays out the sockets and logs/).
            Directory.CreateSymbolicLink(System.IO.Path.Combine(home, ".quickstart"), stack.Root);
            var minispire = Directory.CreateDirectory(System.IO.Path.Combine(stack.Root, "bin", "minispire")).FullName;
            var dll = System.IO.Path.Combine(AppContext.BaseDirectory, "minispire.dll");
            await File.WriteAllTextAsync(System.IO.Path.Combine(minispire, "minispire"), $"#!/bin/sh\nexec env DOTNET_CLI_HOME=/tmp dotnet {dll} \"$@\"\n");
            File.SetUnixFileMode(System.IO.Path.Combine(minispire, "minispire"), (UnixFileMode)0b111_101_101);
            var helper = Directory.CreateDirectory(System.IO.Path.Combine(stack.Root, "bin", "spiffe-helper")).FullName;
            File.CreateSymbolicLink(System.IO.Path.Combine(helper, "spiffe-helper"), PublishedHelperBinary.Get());
            foreach (var dir in new[] { System.IO.Path.Combine(stack.Root, "bin"), minispire, helper })
            {
                File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
            }

            var setup = Blocks("Set up").Where(b => !b.Contains("scripts/quickstart.sh", StringComparison.Ordinal));
            var script = new StringBuilder("set -uo pipefail\n");
            foreach (var block in setup.Concat(Blocks(lab)))
            {
                script.AppendLine(block);
            }

            var text = script.ToString()
                .Replace("/tmp/lab3", System.IO.Path.Combine(home, "lab3"), StringComparison.Ordinal)
                .Replace("/tmp/lab4", System.IO.Path.Combine(home, "lab4"), StringComparison.Ordinal)
                .Replace("8443", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("18089", FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
            var file = System.IO.Path.Combine(home, "lab.sh");
            await File.WriteAllTextAsync(file, text);
            try
            {
                return await ProcessRunner.RunAsync("bash", [file], timeout, workingDirectory: home);
            }
            finally
            {
                // Whatever the lab left running as its workload users (a helper, nginx) if it stopped early.
                foreach (var user in new[] { "www-data", "daemon" })
                {
                    await ProcessRunner.RunAsync("pkill", ["-u", user, "-f", home], TimeSpan.FromSeconds(10));
                }
            }
        }
        finally
        {
            try
            {
                Directory.Delete(home, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
