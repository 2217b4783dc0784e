using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

// The reference program of the benchmarks, in three modes:
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
        {
            using var stop = new ManualResetEventSlim();
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.Set();
            });
            Console.Out.WriteLine("ready");
            Console.Out.Flush();
            stop.Wait();
            return 0;
        }

    case ["signals", var pidFile]:
        {
            using var stop = new ManualResetEventSlim();
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
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.Set();
            });
            File.WriteAllText(pidFile, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            output.WriteLine("ready " + Stopwatch.Frequency.ToString(CultureInfo.InvariantCulture));
            output.Flush();
            stop.Wait();
            return 0;
        }

    default:
        Console.Error.WriteLine("usage: bench-reference write PATH | idle | signals PID_FILE");
        return 2;
}
