using System.Globalization;
using MiniSpire.Agent.Attestation;
using Spiffe.Testing;

namespace MiniSpire.Tests.Agent;

/// <summary>
/// <c>minispire server run</c> and <c>minispire agent run</c> as real processes; workloads are real
/// processes too, one of them running as another user through <c>runuser</c>.
/// </summary>
public sealed class AgentProcessTests : IAsyncLifetime
{
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly string OwnUid = new ProcessInspector().ReadIds(Environment.ProcessId)!.Uid.ToString(CultureInfo.InvariantCulture);

    private LocalMiniSpire _stack = null!;

    public async Task InitializeAsync() => _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task RegisteredUid_GetsItsSvid_WhileAnotherUserIsDenied()
    {
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{OwnUid}");
        var output = Path.Combine(_stack.Root, "out");

        var registered = await FetchUntilAsync("spiffe://example.org/web", "-write", output);
        var nobody = await ProcessRunner.RunAsync(
            "runuser", ["-u", "nobody", "--", "env", "DOTNET_CLI_HOME=/tmp", "dotnet", MiniSpireDll, "agent", "api", "fetch", "x509", "-socketPath", _stack.AgentSocket], LocalMiniSpire.Timeout);

        Assert.Contains("SPIFFE ID:\t\tspiffe://example.org/web", registered.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(output, "svid.0.key")));
        var verify = await ProcessRunner.RunAsync("openssl", ["verify", "-CAfile", Path.Combine(output, "bundle.0.pem"), Path.Combine(output, "svid.0.pem")], LocalMiniSpire.Timeout);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Equal(1, nobody.ExitCode);
        Assert.Contains("PermissionDenied", nobody.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentKeepsServingWhileTheServerIsDown_AndCatchesUpWhenItReturns()
    {
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{OwnUid}");
        await FetchUntilAsync("spiffe://example.org/web");

        await _stack.KillServerAsync();
        var whileDown = await _stack.MiniSpireAsync("agent", "api", "fetch", "x509", "-socketPath", _stack.AgentSocket);
        Assert.True(whileDown.ExitCode == 0, whileDown.ToString());

        await _stack.StartServerAsync();
        await _stack.CreateEntryAsync("spiffe://example.org/db", "-selector", $"unix:uid:{OwnUid}");
        var caughtUp = await FetchUntilAsync("spiffe://example.org/db");

        Assert.Contains("spiffe://example.org/web", caughtUp.StandardOutput, StringComparison.Ordinal);
    }

    /// <summary>Fetches until the agent has synced an SVID for <paramref name="spiffeId"/>.</summary>
    private async Task<ProcessResult> FetchUntilAsync(string spiffeId, params string[] more)
    {
        var deadline = DateTime.UtcNow + LocalMiniSpire.Timeout;
        while (true)
        {
            var result = await _stack.MiniSpireAsync(["agent", "api", "fetch", "x509", "-socketPath", _stack.AgentSocket, .. more]);
            if (result.ExitCode == 0 && result.StandardOutput.Contains(spiffeId, StringComparison.Ordinal))
            {
                return result;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no SVID for {spiffeId}: {result}");
            await Task.Delay(200);
        }
    }
}
