using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Bench.Shared;

// The reference program of the benchmarks, in three modes (the library floors are in bench/ReferenceClient):
//   write PATH        writes a small file and exits: the floor of a Native AOT one-shot run.
//   idle              prints "ready" and waits for SIGTERM: the floor of a Native AOT daemon's memory.
//   signals PID_FILE  writes its pid to PID_FILE, then prints "<monotonic ticks>" on every SIGUSR1: the
//                     application a helper reloads. Stopwatch ticks are CLOCK_MONOTONIC on Linux, so the
//                     benchmark compares them with its own.
switch (args)
{
    case ["write", var path]:
        File.WriteAllText(path, "reference\n");
        return 0;

    case ["idle"]:
        SigtermWait.AfterReady(Console.Out, "ready");
        return 0;

    case ["signals", var pidFile]:
        {
            var output = Console.Out;
            using var usr1 = PosixSignalRegistration.Create((PosixSignal)10, context =>
            {
                var received = Stopwatch.GetTimestamp();
                context.Cancel = true;
                lock (output)
                {
                    output.WriteLine(received.ToString(CultureInfo.InvariantCulture));
                    output.Flush();
                }
            });
            File.WriteAllText(pidFile, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            SigtermWait.AfterReady(output, "ready " + Stopwatch.Frequency.ToString(CultureInfo.InvariantCulture));
            return 0;
        }

    default:
        Console.Error.WriteLine("usage: bench-reference write PATH | idle | signals PID_FILE");
        return 2;
}

