using System.Diagnostics;
using System.Globalization;
using MiniSpire.Tests.Support;
using Spiffe.Testing;

namespace MiniSpire.Tests.Agent;

/// <summary>
/// <c>minispire server run</c> and <c>minispire agent run</c> as real processes; workloads are real
/// processes too, one of them running as another user through <c>runuser</c>.
/// </summary>
public sealed class AgentProcessTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");

    private readonly string _root = TestServer.NewTempDirectory();
    private readonly List<Process> _processes = [];

    private string ServerSocket => Path.Combine(_root, "server", "api.sock");

    private string AgentSocket => Path.Combine(_root, "agent", "public", "api.sock");

    public Task InitializeAsync()
    {
        // Other users must reach the agent socket (mode 0777) through the directories above it.
        File.SetUnixFileMode(_root, (UnixFileMode)0b111_101_101);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }

            process.Dispose();
        }

        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task RegisteredUid_GetsItsSvid_WhileAnotherUserIsDenied()
    {
        await StartServerAsync();
        var token = await ServerCliAsync("token", "generate");
        var agentId = "spiffe://example.org/spire/agent/join_token/" + token.StandardOutput.Trim()["Token: ".Length..];
        var uid = new MiniSpire.Agent.Attestation.ProcessInspector().ReadIds(Environment.ProcessId)!.Uid.ToString(CultureInfo.InvariantCulture);
        var created = await ServerCliAsync("entry", "create", "-parentID", agentId, "-spiffeID", "spiffe://example.org/web", "-selector", $"unix:uid:{uid}");
        Assert.True(created.ExitCode == 0, created.ToString());
        await StartAgentAsync(token.StandardOutput.Trim()["Token: ".Length..]);

        var root = await RunMiniSpireAsync(["agent", "api", "fetch", "x509", "-socketPath", AgentSocket, "-write", Path.Combine(_root, "out")]);
        var nobody = await ProcessRunner.RunAsync("runuser", ["-u", "nobody", "--", "env", "DOTNET_CLI_HOME=/tmp", "dotnet", MiniSpireDll, "agent", "api", "fetch", "x509", "-socketPath", AgentSocket], Timeout);

        Assert.True(root.ExitCode == 0, root.ToString());
        Assert.Contains("SPIFFE ID:\t\tspiffe://example.org/web", root.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_root, "out", "svid.0.key")));
        var verify = await ProcessRunner.RunAsync("openssl", ["verify", "-CAfile", Path.Combine(_root, "out", "bundle.0.pem"), Path.Combine(_root, "out", "svid.0.pem")], Timeout);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        Assert.Equal(1, nobody.ExitCode);
        Assert.Contains("PermissionDenied", nobody.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentKeepsServingWhileTheServerIsDown_AndCatchesUpWhenItReturns()
    {
        var server = await StartServerAsync();
        var token = (await ServerCliAsync("token", "generate")).StandardOutput.Trim()["Token: ".Length..];
        var agentId = "spiffe://example.org/spire/agent/join_token/" + token;
        Assert.Equal(0, (await ServerCliAsync("entry", "create", "-parentID", agentId, "-spiffeID", "spiffe://example.org/web", "-selector", $"unix:uid:{OwnUid}")).ExitCode);
        await StartAgentAsync(token);
        Assert.Equal(0, (await RunMiniSpireAsync(["agent", "api", "fetch", "x509", "-socketPath", AgentSocket])).ExitCode);

        server.Kill(entireProcessTree: true);
        await server.WaitForExitAsync();
        var whileDown = await RunMiniSpireAsync(["agent", "api", "fetch", "x509", "-socketPath", AgentSocket]);
        Assert.True(whileDown.ExitCode == 0, whileDown.ToString());

        await StartServerAsync();
        Assert.Equal(0, (await ServerCliAsync("entry", "create", "-parentID", agentId, "-spiffeID", "spiffe://example.org/db", "-selector", $"unix:uid:{OwnUid}")).ExitCode);
        var deadline = DateTime.UtcNow + Timeout;
        ProcessResult caughtUp;
        do
        {
            await Task.Delay(200);
            caughtUp = await RunMiniSpireAsync(["agent", "api", "fetch", "x509", "-socketPath", AgentSocket]);
        }
        while (!caughtUp.StandardOutput.Contains("spiffe://example.org/db", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        Assert.Contains("spiffe://example.org/db", caughtUp.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("spiffe://example.org/web", caughtUp.StandardOutput, StringComparison.Ordinal);
    }

    private async Task<Process> StartServerAsync()
    {
        var config = Path.Combine(_root, "server.toml");
        await File.WriteAllTextAsync(config, $"""
            [server]
            trust_domain = "example.org"
            bind_address = "127.0.0.1"
            bind_port = {ServerPort}
            socket_path = "{ServerSocket}"
            data_dir = "{Path.Combine(_root, "server-data")}"
            log_level = "WARN"
            """);
        var process = Start(["server", "run", "-config", config]);
        var deadline = DateTime.UtcNow + Timeout;
        while ((await ServerCliAsync("healthcheck")).ExitCode != 0)
        {
            Assert.False(process.HasExited, "the server exited");
            Assert.True(DateTime.UtcNow < deadline, "the server did not become healthy");
            await Task.Delay(100);
        }

        return process;
    }

    private async Task StartAgentAsync(string token)
    {
        var bundle = await ServerCliAsync("bundle", "show");
        var bundlePath = Path.Combine(_root, "bootstrap.pem");
        await File.WriteAllTextAsync(bundlePath, bundle.StandardOutput);
        var config = Path.Combine(_root, "agent.toml");
        await File.WriteAllTextAsync(config, $"""
            [agent]
            trust_domain = "example.org"
            server_address = "127.0.0.1"
            server_port = {ServerPort}
            socket_path = "{AgentSocket}"
            admin_socket_path = "{Path.Combine(_root, "agent", "private", "admin.sock")}"
            data_dir = "{Path.Combine(_root, "agent-data")}"
            trust_bundle_path = "{bundlePath}"
            sync_interval = "1s"
            log_level = "WARN"
            """);
        var process = Start(["agent", "run", "-config", config, "-joinToken", token]);
        var deadline = DateTime.UtcNow + Timeout;
        while ((await RunMiniSpireAsync(["agent", "healthcheck", "-socketPath", AgentSocket])).ExitCode != 0)
        {
            if (process.HasExited)
            {
                Assert.Fail("the agent exited: " + await process.StandardError.ReadToEndAsync());
            }

            Assert.True(DateTime.UtcNow < deadline, "the agent did not become healthy");
            await Task.Delay(100);
        }
    }

    private int ServerPort { get; } = TestServer.FreePort();

    private static string OwnUid => new MiniSpire.Agent.Attestation.ProcessInspector().ReadIds(Environment.ProcessId)!.Uid.ToString(CultureInfo.InvariantCulture);

    private Process Start(string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(MiniSpireDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info)!;
        _processes.Add(process);
        return process;
    }

    private Task<ProcessResult> ServerCliAsync(params string[] args) =>
        RunMiniSpireAsync(["server", .. args, "-socketPath", ServerSocket]);

    private static Task<ProcessResult> RunMiniSpireAsync(string[] args) =>
        ProcessRunner.RunAsync("dotnet", [MiniSpireDll, .. args], Timeout);
}
