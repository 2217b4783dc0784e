using System.Runtime.InteropServices;
using SpiffeHelper;

// SIGTERM and SIGINT stop the helper cleanly (child stopped, exit code 0), as Kubernetes sidecars need.
using var stop = new CancellationTokenSource();
void OnStopSignal(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}

using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnStopSignal);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnStopSignal);
return await HelperApp.RunAsync(args, HelperEnvironment.Process(), stop.Token);
