using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Spiffe.Testing;

namespace EndToEnd.Tests.Support;

/// <summary>
/// One published spiffe-helper process (optionally as another user through <c>runuser</c>, which makes it
/// another workload to the agent), its output kept for assertions and failure messages, and its health
/// listener on a free port.
/// </summary>
internal sealed class HelperRun : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(5) };
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private HelperRun(Process process, int healthPort)
    {
        _process = process;
        HealthPort = healthPort;
        _process.OutputDataReceived += (_, e) => Record(e.Data);
        _process.ErrorDataReceived += (_, e) => Record(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int HealthPort { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The helper's pid (with <c>runuser</c>, the pid of runuser, whose child is the helper).</summary>
    public int ProcessId => _process.Id;

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

    /// <summary>
    /// Writes <c>helper.conf</c> into <paramref name="configDirectory"/> (cert_dir, the agent socket, health on a
    /// free port, plus <paramref name="extraKeys"/> as top-level lines) and starts the helper in daemon mode.
    /// </summary>
    public static async Task<HelperRun> StartAsync(string configDirectory, string agentSocket, string certDir, string extraKeys = "", string? user = null)
    {
        var healthPort = FreePort();
        var config = Path.Combine(configDirectory, "helper.conf");
        await File.WriteAllTextAsync(config, $"""
            agent_address = "unix://{agentSocket}"
            cert_dir = "{certDir}"
            svid_file_name = "svid.pem"
            svid_key_file_name = "svid_key.pem"
            svid_bundle_file_name = "bundle.pem"
            {extraKeys}

            [health_checks]
            listener_enabled = true
            bind_port = {healthPort}
            """);
        File.SetUnixFileMode(config, (UnixFileMode)0b110_100_100);

        var info = user is null
            ? new ProcessStartInfo(PublishedHelperBinary.Get())
            : new ProcessStartInfo("runuser") { ArgumentList = { "-u", user, "--", PublishedHelperBinary.Get() } };
        info.ArgumentList.Add("-config");
        info.ArgumentList.Add(config);
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        return new HelperRun(Process.Start(info) ?? throw new InvalidOperationException("spiffe-helper did not start"), healthPort);
    }

    /// <summary>Starts the helper in daemon mode with a config file the caller wrote, whose health listener is on <paramref name="healthPort"/>.</summary>
    public static HelperRun StartWithConfig(string config, int healthPort)
    {
        var info = new ProcessStartInfo(PublishedHelperBinary.Get()) { ArgumentList = { "-config", config } };
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        return new HelperRun(Process.Start(info) ?? throw new InvalidOperationException("spiffe-helper did not start"), healthPort);
    }

    /// <summary>Sends SIGTERM, as the kubelet does, and returns the exit code.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    /// <summary>GET /ready: the status code and body, or 0 and the error when the listener does not answer.</summary>
    public async Task<(int Status, string Body)> ReadinessAsync()
    {
        try
        {
            using var response = await Http.GetAsync(new Uri($"http://127.0.0.1:{HealthPort}/ready"));
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException e)
        {
            return (0, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Record(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
