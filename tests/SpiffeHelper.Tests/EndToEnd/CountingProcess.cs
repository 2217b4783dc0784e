using System.Diagnostics;

namespace SpiffeHelper.Tests.EndToEnd;

/// <summary>
/// A real process that records every SIGHUP and SIGTERM into a log file and its pid into
/// <c>log.pid</c>: the application a helper reloads. Started by the helper (as <c>cmd</c>) or by the test.
/// </summary>
internal sealed class CountingProcess
{
    private const string Script = """
        out="$1"
        trap 'echo hup >> "$out"' HUP
        trap 'echo term >> "$out"; exit 0' TERM
        echo $$ > "$out.pid.tmp" && mv "$out.pid.tmp" "$out.pid"
        echo started >> "$out"
        while true; do sleep 0.05 & wait $!; done
        """;

    public CountingProcess(TempDir dir, string name)
    {
        ScriptPath = dir.Combine(name + ".sh");
        LogPath = dir.Combine(name + ".log");
        File.WriteAllText(ScriptPath, Script);
    }

    public string ScriptPath { get; }

    public string LogPath { get; }

    public string PidPath => LogPath + ".pid";

    /// <summary>The helper config lines that make the helper start this as its child.</summary>
    public string AsCmd => $"cmd = \"/bin/bash\"\ncmd_args = \"{ScriptPath} {LogPath}\"\n";

    public int Hups => Lines("hup");

    public bool Started => Lines("started") > 0;

    public bool Terminated => Lines("term") > 0;

    public int Pid => int.Parse(File.ReadAllText(PidPath).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    public bool IsAlive => File.Exists(PidPath) && Directory.Exists($"/proc/{Pid}") && !File.ReadAllText($"/proc/{Pid}/stat").Contains(") Z ", StringComparison.Ordinal);

    /// <summary>Starts it from the test (for the pid-file case).</summary>
    public Process StartDirectly()
    {
        var start = new ProcessStartInfo("/bin/bash") { UseShellExecute = false };
        start.ArgumentList.Add(ScriptPath);
        start.ArgumentList.Add(LogPath);
        return Process.Start(start)!;
    }

    private int Lines(string word) => File.Exists(LogPath) ? File.ReadAllLines(LogPath).Count(l => l == word) : 0;
}
