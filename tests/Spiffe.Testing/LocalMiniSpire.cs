using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Spiffe.Testing;

/// <summary>
/// A MiniSpire server and agent as real processes (<c>dotnet minispire.dll server run</c> and
/// <c>agent run</c>) on loopback and Unix sockets in a fresh directory, attested with a join token and
/// bootstrapped with the server's bundle, as the quickstart and an operator would do it.
/// </summary>
public sealed class LocalMiniSpire : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private readonly string _minispireDll;
    private readonly int _serverPort;
    private readonly System.Text.StringBuilder _output = new();
    private Process? _server;
    private Process? _agent;

    private LocalMiniSpire(string minispireDll, string root)
    {
        _minispireDll = minispireDll;
        Root = root;
        _serverPort = FreePort();
    }

    /// <summary>The server's Prometheus port when started with metrics, else 0.</summary>
    public int ServerMetricsPort { get; private set; }

    /// <summary>The agent's Prometheus port when started with metrics, else 0.</summary>
    public int AgentMetricsPort { get; private set; }

    public string Root { get; }

    public string ServerSocket => Path.Combine(Root, "server", "api.sock");

    /// <summary>The Workload API socket.</summary>
    public string AgentSocket => Path.Combine(Root, "agent", "public", "api.sock");

    public string AgentAdminSocket => Path.Combine(Root, "agent", "private", "admin.sock");

    /// <summary>The server's data_dir (datastore with the CA keys).</summary>
    public string ServerDataDir => Path.Combine(Root, "server-data");

    /// <summary>The agent's data_dir (agent SVID and key).</summary>
    public string AgentDataDir => Path.Combine(Root, "agent-data");

    /// <summary>The agent's SPIFFE ID, the parent of workload entries.</summary>
    public string AgentId { get; private set; } = string.Empty;

    /// <summary>The server's agent API port on 127.0.0.1 (TLS).</summary>
    public int ServerPort => _serverPort;

    /// <summary>The running agent's process ID (0 when it is not running).</summary>
    public int AgentProcessId => _agent is { HasExited: false } agent ? agent.Id : 0;

    /// <summary>The running server's process ID (0 when it is not running).</summary>
    public int ServerProcessId => _server is { HasExited: false } server ? server.Id : 0;

    /// <summary>
    /// Starts a server, attests an agent with a fresh join token, and waits until both are healthy. The agent
    /// syncs every <paramref name="agentSyncInterval"/> (a duration such as "1s" or "100ms").
    /// </summary>
    /// <param name="prepareRoot">Runs on the fresh root directory before anything starts (e.g. to pre-create data directories).</param>
    /// <remarks>The server's and the agent's output also go to <c>logs/server.log</c> and <c>logs/agent.log</c> under <see cref="Root"/>, as the quickstart's.</remarks>
    public static async Task<LocalMiniSpire> StartAsync(string minispireDll, string? defaultX509SvidTtl = null, string agentSyncInterval = "1s", bool prometheus = false, Action<string>? prepareRoot = null, string agentLogLevel = "WARN")
    {
        var root = Path.Combine(Path.GetTempPath(), "stack-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(root);
        prepareRoot?.Invoke(root);

        // Workloads of other users must reach the agent socket (mode 0777) through the directories above it.
        File.SetUnixFileMode(root, (UnixFileMode)0b111_101_101);
        var stack = new LocalMiniSpire(minispireDll, root);
        if (prometheus)
        {
            stack.ServerMetricsPort = FreePort();
            stack.AgentMetricsPort = FreePort();
        }

        try
        {
            await File.WriteAllTextAsync(Path.Combine(root, "server.toml"), $"""
                [server]
                trust_domain = "example.org"
                bind_address = "127.0.0.1"
                bind_port = {stack._serverPort}
                socket_path = "{stack.ServerSocket}"
                data_dir = "{stack.ServerDataDir}"
                log_level = "WARN"
                {(defaultX509SvidTtl is null ? string.Empty : $"default_x509_svid_ttl = \"{defaultX509SvidTtl}\"")}
                {(prometheus ? $"[server.telemetry.prometheus]\nport = {stack.ServerMetricsPort}" : string.Empty)}
                """);
            await stack.StartServerAsync();
            var token = (await stack.ServerCliAsync("token", "generate")).StandardOutput.Trim()["Token: ".Length..];
            stack.AgentId = "spiffe://example.org/spire/agent/join_token/" + token;
            var bundle = await stack.ServerCliAsync("bundle", "show");
            await File.WriteAllTextAsync(Path.Combine(root, "bootstrap.pem"), bundle.StandardOutput);
            await File.WriteAllTextAsync(Path.Combine(root, "agent.toml"), $"""
                [agent]
                trust_domain = "example.org"
                server_address = "127.0.0.1"
                server_port = {stack._serverPort}
                socket_path = "{stack.AgentSocket}"
                admin_socket_path = "{stack.AgentAdminSocket}"
                data_dir = "{stack.AgentDataDir}"
                trust_bundle_path = "{Path.Combine(root, "bootstrap.pem")}"
                sync_interval = "{agentSyncInterval}"
                log_level = "{agentLogLevel}"
                {(prometheus ? $"[agent.telemetry.prometheus]\nport = {stack.AgentMetricsPort}" : string.Empty)}
                """);
            await stack.StartAgentAsync(token);
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts (or restarts) the server on the same data and port, and waits until it is healthy.</summary>
    public async Task StartServerAsync()
    {
        _server = Start(["server", "run", "-config", Path.Combine(Root, "server.toml")]);
        await WaitUntilAsync(async () => Healthy(await ServerCliAsync("healthcheck")), _server, "the server");
    }

    /// <summary>Starts (or restarts, without a token) the agent and waits until it has synced.</summary>
    public async Task StartAgentAsync(string? joinToken = null)
    {
        string[] args = joinToken is null
            ? ["agent", "run", "-config", Path.Combine(Root, "agent.toml")]
            : ["agent", "run", "-config", Path.Combine(Root, "agent.toml"), "-joinToken", joinToken];
        _agent = Start(args);
        await WaitUntilAsync(async () => Healthy(await MiniSpireAsync("agent", "healthcheck", "-socketPath", AgentSocket)), _agent, "the agent");
    }

    /// <summary>
    /// Sends SIGTERM to the agent (with <c>kill</c>) and waits for it to exit; returns its exit code and the
    /// time from just before the signal was sent until the process had exited.
    /// </summary>
    public async Task<(int ExitCode, TimeSpan Elapsed)> TerminateAgentAsync()
    {
        var agent = _agent ?? throw new InvalidOperationException("the agent is not running");
        var started = Stopwatch.GetTimestamp();
        var kill = await ProcessRunner.RunAsync("kill", ["-TERM", agent.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], Timeout);
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException("kill -TERM failed: " + kill);
        }

        await agent.WaitForExitAsync().WaitAsync(Timeout);
        return (agent.ExitCode, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>SIGKILLs the server: no chance to flush or clean up.</summary>
    public Task KillServerAsync() => KillAsync(_server);

    /// <summary>SIGKILLs the agent.</summary>
    public Task KillAgentAsync() => KillAsync(_agent);

    /// <summary>Creates a workload entry under the agent and returns its entry ID.</summary>
    public async Task<string> CreateEntryAsync(string spiffeId, params string[] more)
    {
        var result = await ServerCliAsync(["entry", "create", "-parentID", AgentId, "-spiffeID", spiffeId, .. more]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException("entry create failed: " + result);
        }

        return result.StandardOutput.Split('\n').First(l => l.StartsWith("Entry ID", StringComparison.Ordinal)).Split(':', 2)[1].Trim();
    }

    public Task<ProcessResult> ServerCliAsync(params string[] args) =>
        MiniSpireAsync(["server", .. args, "-socketPath", ServerSocket]);

    public Task<ProcessResult> MiniSpireAsync(params string[] args) =>
        ProcessRunner.RunAsync("dotnet", [_minispireDll, .. args], Timeout);

    public async ValueTask DisposeAsync()
    {
        await KillAsync(_agent);
        await KillAsync(_server);
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temporary directory left behind is harmless.
        }
    }

    private Process Start(string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(_minispireDll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("minispire did not start");

        // Drain the output so a chatty process never blocks on a full pipe; keep it for failure messages.
        process.OutputDataReceived += (_, e) => Record(args[0], e.Data);
        process.ErrorDataReceived += (_, e) => Record(args[0], e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>What the server and agent processes printed so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private bool Healthy(ProcessResult healthcheck)
    {
        if (healthcheck.ExitCode != 0)
        {
            Record("healthcheck", healthcheck.StandardError.Trim());
        }

        return healthcheck.ExitCode == 0;
    }

    private void Record(string who, string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.Append(who).Append(": ").AppendLine(line);
                if (who is "server" or "agent")
                {
                    Directory.CreateDirectory(Path.Combine(Root, "logs"));
                    File.AppendAllText(Path.Combine(Root, "logs", who + ".log"), line + Environment.NewLine);
                }
            }
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task KillAsync(Process? process)
    {
        if (process is null)
        {
            return;
        }

        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        process.Dispose();
    }

    private async Task WaitUntilAsync(Func<Task<bool>> ready, Process process, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!await ready())
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{what} exited with code {process.ExitCode}:\n{Output}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what} did not become healthy within {Timeout}:\n{Output}");
            }

            await Task.Delay(100);
        }
    }
}
