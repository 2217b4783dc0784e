using System.Diagnostics;
using System.Net.Sockets;
using System.Security.Cryptography;
using MiniSpire.Agent.Attestation;
using MiniSpire.Entries;

namespace MiniSpire.Tests.Agent;

public sealed class UnixAttestationTests
{
    private readonly ProcessInspector _processes = new();

    [Fact]
    public async Task PeerCredentials_OfAConnectedUnixSocket_NameTheConnectingProcess()
    {
        var path = Path.Combine(Path.GetTempPath(), $"peercred-{Guid.NewGuid():N}.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        using var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(path)).WaitAsync(TimeSpan.FromSeconds(10));
        using var accepted = await listener.AcceptAsync().WaitAsync(TimeSpan.FromSeconds(10));

        var credentials = PeerCredentials.Read(accepted);

        Assert.Equal(Environment.ProcessId, credentials.Pid);
        Assert.Equal(_processes.ReadIds(Environment.ProcessId)!.Uid, credentials.Uid);
        File.Delete(path);
    }

    [Fact]
    public void ProcessInspector_OwnProcess_HasStartTimeAndIds()
    {
        var startTime = _processes.ReadStartTime(Environment.ProcessId);
        var ids = _processes.ReadIds(Environment.ProcessId);

        Assert.NotNull(startTime);
        Assert.Equal(startTime, _processes.ReadStartTime(Environment.ProcessId));
        Assert.NotNull(ids);
    }

    [Fact]
    public async Task ProcessInspector_ExitedProcess_IsGone()
    {
        using var process = Process.Start("true")!;
        var pid = process.Id;
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        process.Dispose();

        Assert.Null(_processes.ReadStartTime(pid));
        Assert.Null(_processes.ReadIds(pid));
        Assert.Null(new UnixWorkloadAttestor(_processes, new UserDatabase(), true).Attest(pid));
    }

    [Fact]
    public void UnixAttestor_NamesUidGidUserGroupAndSupplementaryGroups()
    {
        var directory = Directory.CreateTempSubdirectory("userdb-");
        var ids = _processes.ReadIds(Environment.ProcessId)!;
        File.WriteAllText(Path.Combine(directory.FullName, "passwd"), $"someone:x:{ids.Uid}:{ids.Gid}::/:/bin/sh\n");
        File.WriteAllText(Path.Combine(directory.FullName, "group"), $"primary:x:{ids.Gid}:\n");
        var attestor = new UnixWorkloadAttestor(_processes, new UserDatabase(Path.Combine(directory.FullName, "passwd"), Path.Combine(directory.FullName, "group")), false);

        var selectors = attestor.Attest(Environment.ProcessId)!.Select(s => s.ToString()).ToList();

        Assert.Contains($"unix:uid:{ids.Uid}", selectors);
        Assert.Contains($"unix:gid:{ids.Gid}", selectors);
        Assert.Contains("unix:user:someone", selectors);
        Assert.Contains("unix:group:primary", selectors);
        Assert.All(ids.SupplementaryGroups, g => Assert.Contains($"unix:supplementary_gid:{g}", selectors));
        Assert.DoesNotContain(selectors, s => s.StartsWith("unix:path:", StringComparison.Ordinal));
        directory.Delete(recursive: true);
    }

    [Fact]
    public async Task UnixAttestor_WithPathDiscovery_NamesTheExecutableAndItsHash()
    {
        using var sleeper = Process.Start("sleep", "30")!;
        try
        {
            var attestor = new UnixWorkloadAttestor(_processes, new UserDatabase(), true);

            var selectors = attestor.Attest(sleeper.Id)!.Select(s => s.ToString()).ToList();

            var path = selectors.Single(s => s.StartsWith("unix:path:", StringComparison.Ordinal))["unix:path:".Length..];
            Assert.EndsWith("/sleep", path, StringComparison.Ordinal);
            var expected = Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(path)));
            Assert.Contains($"unix:sha256:{expected}", selectors);
        }
        finally
        {
            sleeper.Kill();
        }
    }

    [Fact]
    public async Task UnixAttestor_ProcessOfAnotherUser_GetsThatUsersSelectors()
    {
        using var sleeper = Process.Start("runuser", ["-u", "nobody", "--", "sleep", "30"])!;
        try
        {
            // runuser forks the target process: find the sleep child running as nobody.
            var attestor = new UnixWorkloadAttestor(_processes, new UserDatabase(), false);
            IReadOnlyList<Selector>? selectors = null;
            for (var i = 0; i < 100 && selectors is null; i++)
            {
                var child = Directory.EnumerateDirectories("/proc")
                    .Select(d => int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0)
                    .Where(pid => pid > 0 && _processes.ReadIds(pid)?.Uid == 65534 && File.ReadAllText($"/proc/{pid}/cmdline").StartsWith("sleep\0", StringComparison.Ordinal))
                    .Select(pid => (int?)pid).FirstOrDefault();
                selectors = child is { } pid2 ? attestor.Attest(pid2) : null;
                await Task.Delay(20);
            }

            Assert.NotNull(selectors);
            var texts = selectors.Select(s => s.ToString()).ToList();
            Assert.Contains("unix:uid:65534", texts);
            Assert.Contains("unix:user:nobody", texts);
        }
        finally
        {
            sleeper.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public void PeerTracker_StartTimeChangedSinceAccept_RefusesTheCaller()
    {
        var tracker = new PeerTracker(_processes, new UnixWorkloadAttestor(_processes, new UserDatabase(), false));
        var ids = _processes.ReadIds(Environment.ProcessId)!;
        var caller = new PeerCredentials(Environment.ProcessId, ids.Uid, ids.Gid);
        using var same = tracker.Track(caller);
        using var reused = new TrackedCaller(caller, _processes.Open(Environment.ProcessId), same.StartTime + 1);
        using var unknown = new TrackedCaller(caller, null, null);

        var sameResult = tracker.Attest(same);
        var reusedResult = tracker.Attest(reused);
        var unknownResult = tracker.Attest(unknown);

        Assert.True(sameResult.Succeeded);
        Assert.Contains(new Selector("unix", $"uid:{ids.Uid}"), sameResult.Selectors);
        Assert.Equal(AttestationFailure.CallerGone, reusedResult.Failure);
        Assert.Empty(reusedResult.Selectors);
        Assert.Equal(AttestationFailure.CallerGone, unknownResult.Failure);
    }

    [Fact]
    public void PeerTracker_ProcessIdsDifferFromPeerCredentials_RefusesTheCaller()
    {
        var tracker = new PeerTracker(_processes, new UnixWorkloadAttestor(_processes, new UserDatabase(), false));
        var ids = _processes.ReadIds(Environment.ProcessId)!;
        using var otherUid = tracker.Track(new PeerCredentials(Environment.ProcessId, ids.Uid + 1, ids.Gid));
        using var otherGid = tracker.Track(new PeerCredentials(Environment.ProcessId, ids.Uid, ids.Gid + 1));

        Assert.Equal(AttestationFailure.CredentialsChanged, tracker.Attest(otherUid).Failure);
        Assert.Equal(AttestationFailure.CredentialsChanged, tracker.Attest(otherGid).Failure);
        Assert.Empty(tracker.Attest(otherUid).Selectors);
    }

    [Fact]
    public async Task PeerTracker_TrackedProcessExited_IsGone()
    {
        var tracker = new PeerTracker(_processes, new UnixWorkloadAttestor(_processes, new UserDatabase(), false));
        using var process = Process.Start("sleep", "30")!;
        var ids = _processes.ReadIds(process.Id)!;
        using var caller = tracker.Track(new PeerCredentials(process.Id, ids.Uid, ids.Gid));
        Assert.True(tracker.Attest(caller).Succeeded);

        process.Kill();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(AttestationFailure.CallerGone, tracker.Attest(caller).Failure);
    }
}
