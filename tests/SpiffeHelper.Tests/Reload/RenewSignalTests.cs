using Microsoft.Extensions.Logging.Abstractions;
using SpiffeHelper.Config;
using SpiffeHelper.Reload;
using SpiffeHelper.Tests.EndToEnd;

namespace SpiffeHelper.Tests.Reload;

/// <summary>
/// renew_signal accepts exactly the names the Go tool accepts on Linux (golang.org/x/sys/unix's signal table,
/// looked up by unix.SignalNum: "SIG" and capitals), and each one reaches a real child started as cmd.
/// </summary>
public sealed class RenewSignalTests : IDisposable
{
    private const string Outputs = "svid_file_name = \"svid.pem\"\nsvid_key_file_name = \"svid_key.pem\"\nsvid_bundle_file_name = \"bundle.pem\"\n";

    /// <summary>Records the one signal it is told to expect into a file and exits; says it is ready first.</summary>
    private const string PerlChild = """
        my ($name, $out) = @ARGV;
        if ($name ne 'KILL' && $name ne 'STOP') {
            $SIG{$name} = sub { open(my $f, '>', $out) or die; print $f "$name\n"; close $f; exit 0; };
        }
        open(my $r, '>', "$out.ready") or die; close $r;
        while (1) { select(undef, undef, undef, 0.02); }
        """;

    private readonly TempDir _dir = new();

    public static TheoryData<string> GoSignalNames => new(
        "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV",
        "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN",
        "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS");

    public void Dispose() => _dir.Dispose();

    private HelperOptions Load(string signal, string script, string output)
    {
        var result = ConfigLoader.Parse(
            Outputs + $"cmd = \"/usr/bin/perl\"\ncmd_args = \"{script} {signal[3..]} {output}\"\nrenew_signal = \"{signal}\"\n",
            _dir.Combine("helper.conf"),
            _ => null,
            null,
            _dir.Path);
        Assert.True(result.Errors.Count == 0, string.Join("\n", result.Errors));
        return result.Options! with { CmdStopTimeout = TimeSpan.FromSeconds(1) };
    }

    [Theory(Timeout = 30_000)]
    [MemberData(nameof(GoSignalNames))]
    public async Task RenewSignal_EveryGoName_ReachesTheRealChild(string signal)
    {
        var script = _dir.Combine("child.pl");
        await File.WriteAllTextAsync(script, PerlChild);
        var output = _dir.Combine("received");
        var options = Load(signal, script, output);
        Assert.Equal(signal, options.RenewSignal!.Name);
        await using var child = new ChildProcess(options, TimeProvider.System, NullLogger<ChildProcess>.Instance);

        await child.OnRenewedAsync();
        await Wait.UntilAsync(() => File.Exists(output + ".ready"), "the child to start and install its handler");
        var pid = child.Pid!.Value;
        await child.OnRenewedAsync();

        switch (signal)
        {
            case "SIGKILL":
                await Wait.UntilAsync(() => child.Pid is null, "the child to be killed");
                Assert.False(File.Exists(output));
                break;
            case "SIGSTOP":
                await Wait.UntilAsync(() => ProcessState(pid) == 'T', "the child to be stopped");
                break;
            default:
                await Wait.UntilAsync(() => File.Exists(output) && File.ReadAllText(output) == signal[3..] + "\n", $"the child to record {signal}");
                break;
        }
    }

    [Theory]
    [InlineData("HUP")]
    [InlineData("sighup")]
    [InlineData("SIGIOT")]
    [InlineData("SIGRTMIN")]
    [InlineData("1")]
    public void RenewSignal_NameTheGoToolRejects_IsAnErrorListingTheValidNames(string signal)
    {
        var result = ConfigLoader.Parse(Outputs + $"renew_signal = \"{signal}\"\n", _dir.Combine("helper.conf"), _ => null, null, _dir.Path);

        var error = Assert.Single(result.Errors);
        Assert.Equal("renew_signal", error.Key);
        Assert.Contains("SIGSTKFLT", error.Reason, StringComparison.Ordinal);
        Assert.Contains("SIGPWR", error.Reason, StringComparison.Ordinal);
    }

    /// <summary>The state letter of /proc/&lt;pid&gt;/stat (R, S, T, Z, ...), or '?' once the process is gone.</summary>
    private static char ProcessState(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[stat.LastIndexOf(')') + 2];
        }
        catch (IOException)
        {
            return '?';
        }
    }
}
