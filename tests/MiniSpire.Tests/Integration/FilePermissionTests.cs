using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using MiniSpire.Agent;
using MiniSpire.Config;
using MiniSpire.Platform;
using MiniSpire.Tests.Support;
using Spiffe;
using Spiffe.Testing;

namespace MiniSpire.Tests.Integration;

/// <summary>
/// Issue 16 items 2 and 10 with real files, real directory modes and a real unprivileged user: the key
/// material in data_dir is unreadable by others, and socket directories are created private but an existing
/// shared one is never chmodded (and refused when others can replace the socket).
/// </summary>
public sealed class FilePermissionTests
{
    private const UnixFileMode Mode0755 = (UnixFileMode)0b111_101_101;
    private const UnixFileMode Mode0777 = (UnixFileMode)0b111_111_111;
    private const UnixFileMode Mode1777 = Mode0777 | UnixFileMode.StickyBit;
    private const UnixFileMode OthersAndGroup = (UnixFileMode)0b000_111_111;

    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");

    [Fact]
    public async Task DataDirsExisting0755_AfterIssuance_NobodyCanReadAnyFile_AndTheChangeIsLogged()
    {
        Assert.True(Environment.UserName == "root", "this test reads files as nobody through runuser: it must run as root (as CI does)");
        await using var stack = await LocalMiniSpire.StartAsync(MiniSpireDll, prepareRoot: root =>
        {
            foreach (var dir in new[] { "server-data", "agent-data" })
            {
                Directory.CreateDirectory(Path.Combine(root, dir));
                File.SetUnixFileMode(Path.Combine(root, dir), Mode0755);
            }
        });
        await stack.CreateEntryAsync("spiffe://example.org/web", "-selector", "unix:uid:0");
        var deadline = DateTime.UtcNow + LocalMiniSpire.Timeout;
        while (!(await stack.MiniSpireAsync("agent", "api", "fetch", "x509", "-socketPath", stack.AgentSocket)).StandardOutput.Contains("spiffe://example.org/web", StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, "no SVID issued");
            await Task.Delay(200);
        }

        var files = Directory.EnumerateFiles(stack.ServerDataDir).Concat(Directory.EnumerateFiles(stack.AgentDataDir)).ToList();
        Assert.Contains(Path.Combine(stack.ServerDataDir, "datastore.sqlite3-wal"), files);
        Assert.Contains(Path.Combine(stack.ServerDataDir, "datastore.sqlite3-shm"), files);
        Assert.Contains(Path.Combine(stack.AgentDataDir, "agent_svid.key"), files);
        foreach (var file in files)
        {
            var read = await ProcessRunner.RunAsync("runuser", ["-u", "nobody", "--", "cat", file], LocalMiniSpire.Timeout);
            Assert.True(read.ExitCode != 0 && read.StandardOutput.Length == 0, $"nobody read {file}: {read}");

            // Unreadable on their own too, not only through the directory.
            Assert.Equal((UnixFileMode)0, File.GetUnixFileMode(file) & OthersAndGroup);
        }

        foreach (var dir in new[] { stack.ServerDataDir, stack.AgentDataDir })
        {
            Assert.Equal(OwnerOnlyPaths.OwnerOnlyDirectory, File.GetUnixFileMode(dir));
            Assert.Contains($"data_dir \"{dir}\" was mode 0755, readable by other users; set it to 0700", stack.Output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void DataDir_WritableByOthers_IsRefusedAndLeftAlone()
    {
        var dir = NewDirectory(Mode1777);
        try
        {
            var error = Assert.Throws<IOException>(() => OwnerOnlyPaths.PrepareDataDirectory(dir, "data_dir"));

            Assert.Contains($"data_dir \"{dir}\" is writable by other users (mode 01777)", error.Message, StringComparison.Ordinal);
            Assert.Equal(Mode1777, File.GetUnixFileMode(dir));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Server_SocketInAnExistingStickyWorldWritableDirectory_Starts_AndNeverChmodsIt()
    {
        var shared = NewDirectory(Mode1777);
        try
        {
            await using var server = await TestServer.StartAsync(o => o with { SocketPath = Path.Combine(shared, "api.sock") });

            var health = await server.CliAsync("healthcheck");

            Assert.True(health.ExitCode == 0, health.Stderr);
            Assert.Equal(Mode1777, File.GetUnixFileMode(shared));
            Assert.Equal(OwnerOnlyPaths.OwnerOnlyFile, File.GetUnixFileMode(Path.Combine(shared, "api.sock")));
        }
        finally
        {
            Directory.Delete(shared, recursive: true);
        }
    }

    [Fact]
    public async Task Server_SocketInAWorldWritableDirectoryWithoutStickyBit_IsRefused_AndTheModeIsUnchanged()
    {
        var open = NewDirectory(Mode0777);
        try
        {
            var error = await Assert.ThrowsAsync<IOException>(() => TestServer.StartAsync(o => o with { SocketPath = Path.Combine(open, "api.sock") }));

            Assert.Contains($"the directory \"{open}\" of the admin API socket", error.Message, StringComparison.Ordinal);
            Assert.Contains("writable by other users without the sticky bit (mode 0777)", error.Message, StringComparison.Ordinal);
            Assert.Equal(Mode0777, File.GetUnixFileMode(open));
            Assert.False(File.Exists(Path.Combine(open, "api.sock")));
        }
        finally
        {
            Directory.Delete(open, recursive: true);
        }
    }

    [Fact]
    public async Task Server_MissingSocketDirectory_IsCreatedOwnerOnly()
    {
        await using var server = await TestServer.StartAsync();

        Assert.Equal(OwnerOnlyPaths.OwnerOnlyDirectory, File.GetUnixFileMode(Path.GetDirectoryName(server.SocketPath)!));
    }

    [Fact]
    public void Agent_SocketsInAWorldWritableDirectoryWithoutStickyBit_AreRefused()
    {
        var open = NewDirectory(Mode0777);
        var own = NewDirectory(OwnerOnlyPaths.OwnerOnlyDirectory);
        try
        {
            var workload = Assert.Throws<IOException>(() => AgentHost.Build(AgentOptions(Path.Combine(open, "api.sock"), Path.Combine(own, "private", "admin.sock"), own), configureLogging: _ => { }));
            var admin = Assert.Throws<IOException>(() => AgentHost.Build(AgentOptions(Path.Combine(own, "public", "api.sock"), Path.Combine(open, "admin.sock"), own), configureLogging: _ => { }));

            Assert.Contains("of the Workload API socket", workload.Message, StringComparison.Ordinal);
            Assert.Contains("of the agent admin socket", admin.Message, StringComparison.Ordinal);
            Assert.Equal(Mode0777, File.GetUnixFileMode(open));
        }
        finally
        {
            Directory.Delete(open, recursive: true);
            Directory.Delete(own, recursive: true);
        }
    }

    [Fact]
    public async Task Agent_SocketsInAStickyWorldWritableDirectory_AreServed_AndMissingDirectoriesGetTheirModes()
    {
        var shared = NewDirectory(Mode1777);
        var own = NewDirectory(OwnerOnlyPaths.OwnerOnlyDirectory);
        await using var server = await TestServer.StartAsync();
        try
        {
            // In the shared sticky directory: accepted, served, never chmodded.
            await File.WriteAllTextAsync(Path.Combine(own, "bootstrap.pem"), (await server.BundleAsync()).ExportPem());
            var options = AgentOptions(Path.Combine(shared, "api.sock"), Path.Combine(shared, "admin.sock"), own) with
            {
                ServerPort = server.Options.BindPort,
                JoinToken = await server.GenerateTokenAsync(),
            };
            await using (var app = AgentHost.Build(options, configureLogging: _ => { }))
            {
                await app.StartAsync().Within();
                await app.Services.GetRequiredService<AgentService>().FirstSync.Within();
                using var stderr = new StringWriter();
                var health = await global::MiniSpire.Cli.MiniSpireCli.RunAsync(["agent", "healthcheck", "-socketPath", Path.Combine(shared, "api.sock")], TextWriter.Null, stderr).Within();
                Assert.True(health == 0, stderr.ToString());
                Assert.True(File.Exists(Path.Combine(shared, "api.sock")));
                Assert.Equal(Mode1777, File.GetUnixFileMode(shared));
                Assert.Equal(OwnerOnlyPaths.OwnerOnlyFile, File.GetUnixFileMode(Path.Combine(shared, "admin.sock")));
                await app.StopAsync().Within();
            }

            // Missing directories, created by the agent: 0755 for the Workload API (with its parent), 0700 for admin.
            var publicDir = Path.Combine(own, "new", "public");
            await using (var app = AgentHost.Build(AgentOptions(Path.Combine(publicDir, "api.sock"), Path.Combine(own, "private", "admin.sock"), own), configureLogging: _ => { }))
            {
                Assert.Equal(Mode0755, File.GetUnixFileMode(publicDir));
                Assert.Equal(Mode0755, File.GetUnixFileMode(Path.Combine(own, "new")));
                Assert.Equal(OwnerOnlyPaths.OwnerOnlyDirectory, File.GetUnixFileMode(Path.Combine(own, "private")));
            }

            Assert.Equal(Mode1777, File.GetUnixFileMode(shared));
        }
        finally
        {
            Directory.Delete(shared, recursive: true);
            Directory.Delete(own, recursive: true);
        }
    }

    private static AgentOptions AgentOptions(string socketPath, string adminSocketPath, string root) => new()
    {
        TrustDomain = TrustDomain.Parse("example.org"),
        ServerAddress = "127.0.0.1",
        ServerPort = TestServer.FreePort(),
        SocketPath = socketPath,
        AdminSocketPath = adminSocketPath,
        DataDir = Path.Combine(root, "data"),
        TrustBundlePath = Path.Combine(root, "bootstrap.pem"),
        JoinToken = "unused",
        SyncInterval = TimeSpan.FromSeconds(30),
        LogLevel = LogLevel.Warning,
    };

    private static string NewDirectory(UnixFileMode mode)
    {
        var dir = TestServer.NewTempDirectory();
        File.SetUnixFileMode(dir, mode);
        return dir;
    }
}
