using System.Diagnostics;

namespace SpiffeHelper.Tests.EndToEnd;

/// <summary>A helper run as a separate process, its output captured.</summary>
internal sealed class HelperProcess : IDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;
    private readonly Task<string> _stdout;

    public HelperProcess(string binary, string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo(binary)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Remove("SPIFFE_ENDPOINT_SOCKET");
        _process = Process.Start(start)!;
        _stderr = _process.StandardError.ReadToEndAsync();
        _stdout = _process.StandardOutput.ReadToEndAsync();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public async Task<(int ExitCode, string Stdout, string Stderr)> WaitAsync(TimeSpan? timeout = null)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout ?? Wait.Default);
        return (_process.ExitCode, await _stdout, await _stderr);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}
