using System.Runtime.InteropServices;

namespace Bench.Shared;

/// <summary>How the reference programs idle: announce readiness, then wait until the bench sends SIGTERM.</summary>
internal static class SigtermWait
{
    /// <summary>Prints <paramref name="readyLine"/> and blocks until SIGTERM, which then ends nothing but the wait.</summary>
    public static void AfterReady(TextWriter output, string readyLine)
    {
        using var stop = new ManualResetEventSlim();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            // Handled here, so the program returns its own exit code instead of dying by the signal.
            context.Cancel = true;
            stop.Set();
        });
        output.WriteLine(readyLine);
        output.Flush();
        stop.Wait();
    }
}
