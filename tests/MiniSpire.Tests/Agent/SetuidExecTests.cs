using System.Diagnostics;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using MiniSpire.Agent.Attestation;
using Spiffe.Testing;
using Spiffe.WorkloadApi.Proto;

namespace MiniSpire.Tests.Agent;

/// <summary>
/// Issue 16 item 1 as an attacker does it, with real processes against a real agent process: a process of the
/// unregistered user nobody connects to the Workload API, keeps the connection open (relayed by a forked child)
/// and execs a setuid-root program; the request then made over that connection must not get root's SVID.
/// </summary>
public sealed class SetuidExecTests : IAsyncLifetime
{
    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private LocalMiniSpire _stack = null!;
    private string _bin = null!;

    public async Task InitializeAsync()
    {
        Assert.True(Environment.UserName == "root", "this test makes a setuid-root program and runs as nobody: it must run as root (as CI does)");
        _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);

        // root's entry, which nobody must never get; the agent syncs it before the attack starts.
        await _stack.CreateEntryAsync("spiffe://example.org/root", "-selector", "unix:uid:0");
        await WaitForRootSvidAsync();

        _bin = Path.Combine(_stack.Root, "bin");
        Directory.CreateDirectory(_bin);
        File.SetUnixFileMode(_bin, (UnixFileMode)0b111_101_101);
        var compiled = await ProcessRunner.RunAsync(Compiler(), ["-O1", "-o", Path.Combine(_bin, "connect-then-exec"), Path.Combine(AppContext.BaseDirectory, "Agent", "Assets", "connect-then-exec.c")], Timeout);
        Assert.True(compiled.ExitCode == 0, compiled.ToString());

        // A setuid-root copy of sleep (owned by root, as the test runs), and a plain copy for the control case.
        File.Copy("/bin/sleep", Path.Combine(_bin, "setuid-sleep"));
        File.SetUnixFileMode(Path.Combine(_bin, "setuid-sleep"), UnixFileMode.SetUser | (UnixFileMode)0b111_101_101);
        File.Copy("/bin/sleep", Path.Combine(_bin, "plain-sleep"));
        File.SetUnixFileMode(Path.Combine(_bin, "plain-sleep"), (UnixFileMode)0b111_101_101);
    }

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task NobodyConnectsThenExecsSetuidRoot_RequestOnThatConnection_IsRefusedWithoutRootsSvid()
    {
        await using var attack = await Attacker.StartAsync(_bin, _stack.AgentSocket, "setuid-sleep");

        // The escalation really happened: the process that connected now runs with effective uid 0.
        var ids = new ProcessInspector().ReadIds(attack.ConnectedPid);
        Assert.NotNull(ids);
        Assert.Equal(0u, ids.Uid);

        var (status, svids) = await FetchOverAsync(attack.RelayName);

        Assert.DoesNotContain("spiffe://example.org/root", svids);
        Assert.Empty(svids);
        Assert.Equal(StatusCode.Unauthenticated, status);
        Assert.Contains($"(pid {attack.ConnectedPid}) no longer runs as uid 65534", _stack.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NobodyConnectsThenExecsAPlainProgram_IsAttestedAsNobody_AndDenied()
    {
        // The control: the same relay and exec without setuid reach the agent and are attested as nobody.
        await using var attack = await Attacker.StartAsync(_bin, _stack.AgentSocket, "plain-sleep");
        Assert.Equal(65534u, new ProcessInspector().ReadIds(attack.ConnectedPid)!.Uid);

        var (status, svids) = await FetchOverAsync(attack.RelayName);

        Assert.Empty(svids);
        Assert.Equal(StatusCode.PermissionDenied, status);
    }

    private static async Task<(StatusCode Status, List<string> SpiffeIds)> FetchOverAsync(string relayName)
    {
        using var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, token) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint("\0" + relayName), token);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            },
            DisposeHttpClient = true,
        });
        var client = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel);
        var ids = new List<string>();
        try
        {
            using var call = client.FetchX509SVID(new X509SVIDRequest(), new Metadata { { "workload.spiffe.io", "true" } });
            while (await call.ResponseStream.MoveNext().WaitAsync(Timeout))
            {
                ids.AddRange(call.ResponseStream.Current.Svids.Select(s => s.SpiffeId));
                return (StatusCode.OK, ids);
            }

            return (StatusCode.OK, ids);
        }
        catch (RpcException e)
        {
            return (e.StatusCode, ids);
        }
    }

    private async Task WaitForRootSvidAsync()
    {
        var deadline = DateTime.UtcNow + LocalMiniSpire.Timeout;
        while (true)
        {
            var result = await _stack.MiniSpireAsync("agent", "api", "fetch", "x509", "-socketPath", _stack.AgentSocket);
            if (result.ExitCode == 0 && result.StandardOutput.Contains("spiffe://example.org/root", StringComparison.Ordinal))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, "root never got its SVID: " + result);
            await Task.Delay(200);
        }
    }

    private static string Compiler()
    {
        foreach (var name in new[] { "cc", "clang", "gcc" })
        {
            var path = Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);
            if (path is not null)
            {
                return path;
            }
        }

        // install-build-deps.sh installs clang, possibly only as clang-<version>.
        return Directory.EnumerateFiles("/usr/bin", "clang-[0-9]*").FirstOrDefault()
            ?? throw new InvalidOperationException("no C compiler (cc, clang, gcc): run scripts/install-build-deps.sh");
    }

    /// <summary><c>runuser -u nobody -- connect-then-exec</c>, up to the moment its exec has happened.</summary>
    private sealed class Attacker : IAsyncDisposable
    {
        private readonly Process _process;

        private Attacker(Process process, int connectedPid, string relayName)
        {
            _process = process;
            ConnectedPid = connectedPid;
            RelayName = relayName;
        }

        public int ConnectedPid { get; }

        public string RelayName { get; }

        public static async Task<Attacker> StartAsync(string bin, string agentSocket, string program)
        {
            var relayName = "minispire-test-relay-" + Guid.NewGuid().ToString("N")[..12];
            var info = new ProcessStartInfo("runuser") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "-u", "nobody", "--", Path.Combine(bin, "connect-then-exec"), agentSocket, relayName, Path.Combine(bin, program), "60" })
            {
                info.ArgumentList.Add(argument);
            }

            var process = Process.Start(info)!;
            var attacker = new Attacker(process, 0, relayName);
            try
            {
                var pidLine = await process.StandardOutput.ReadLineAsync().WaitAsync(Timeout);
                var ready = await process.StandardOutput.ReadLineAsync().WaitAsync(Timeout);
                if (pidLine is null || !pidLine.StartsWith("pid ", StringComparison.Ordinal) || ready != "relay ready")
                {
                    // It exited (nothing holds stderr open any more).
                    Assert.Fail($"connect-then-exec failed: {pidLine} {ready} {await process.StandardError.ReadToEndAsync().WaitAsync(Timeout)}");
                }

                var pid = int.Parse(pidLine!["pid ".Length..], System.Globalization.CultureInfo.InvariantCulture);

                // Wait until the exec is done: /proc/<pid>/exe names the program.
                var deadline = DateTime.UtcNow + Timeout;
                while (new ProcessInspector().ReadExecutablePath(pid)?.EndsWith("/" + program, StringComparison.Ordinal) != true)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"pid {pid} never exec'd {program}");
                    await Task.Delay(20);
                }

                return new Attacker(process, pid, relayName);
            }
            catch
            {
                await attacker.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(Timeout);
            }

            _process.Dispose();
        }
    }
}
