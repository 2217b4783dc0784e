namespace EndToEnd.Tests.Support;

internal static class Identity
{
    /// <summary>The uid of this test process, as the agent's unix attestor sees it.</summary>
    public static string Uid()
    {
        var status = File.ReadAllLines("/proc/self/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        return status.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[2];
    }

    /// <summary>A directory another user (the second workload) can write.</summary>
    public static void GiveTo(string directory, string user)
    {
        var result = Spiffe.Testing.ProcessRunner.RunAsync("chown", [user, directory], TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
        Assert.True(result.ExitCode == 0, result.ToString());
    }
}
