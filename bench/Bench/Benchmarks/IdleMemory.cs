using System.Globalization;

namespace Bench.Benchmarks;

/// <summary>
/// 1. The AOT helper's resident memory in daemon mode after its first write, health listener on, against
/// the real MiniSpire agent; beside the bare Native AOT reference program idling, and the binary sizes.
/// </summary>
internal static class IdleMemory
{
    /// <summary>Target RSS: the Go spiffe-helper v0.10 on this kind of machine.</summary>
    public const double TargetRssMiB = 15;

    /// <summary>
    /// Runtime GC settings tried on the same binary (DOTNET_ environment variables are read by Native AOT
    /// programs too), so a csproj change can be judged by its figure before it is made.
    /// </summary>
    private static readonly (string Name, Dictionary<string, string> Environment)[] GcVariants =
    [
        ("DOTNET_gcConcurrent=0 (no background GC thread)", new() { ["DOTNET_gcConcurrent"] = "0" }),
        ("DOTNET_GCgen0size=0x40000 (256 KiB gen0 budget)", new() { ["DOTNET_GCgen0size"] = "40000" }),
        ("DOTNET_GCConserveMemory=9", new() { ["DOTNET_GCConserveMemory"] = "9" }),
        ("DOTNET_GCHeapHardLimit=0x800000 (8 MiB)", new() { ["DOTNET_GCHeapHardLimit"] = "800000" }),
        ("DOTNET_GCRegionSize=0x100000 (1 MiB regions)", new() { ["DOTNET_GCRegionSize"] = "100000" }),
        ("gcConcurrent=0 + GCgen0size=0x40000", new() { ["DOTNET_gcConcurrent"] = "0", ["DOTNET_GCgen0size"] = "40000" }),
    ];

    public static async Task RunAsync(BenchContext context, BenchmarkResult result)
    {
        var stack = await context.StackAsync();
        var settle = context.Tiny ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(10);

        var (memory, metrics) = await MeasureHelperAsync(context, stack.AgentSocket, settle, environment: null);
        result.AddAtMost("helper RSS", memory.RssMiB, "MiB", TargetRssMiB);
        result.Add("helper RssAnon (private)", memory.RssAnonMiB, "MiB");
        result.Add("helper RssFile (binary, libraries)", memory.RssFileMiB, "MiB");
        result.Add("helper threads", memory.Threads, "threads");

        var reference = await MeasureReferenceAsync(context.Options.Reference, ["idle"], settle);
        result.Add("reference AOT program RSS", reference.RssMiB, "MiB");
        result.Add("reference AOT program RssAnon", reference.RssAnonMiB, "MiB");

        var grpc = await MeasureReferenceAsync(context.Options.ReferenceClient, ["fetch-idle", stack.AgentSocket], settle);
        result.Add("reference AOT Grpc.Net.Client stream open RSS", grpc.RssMiB, "MiB");
        result.Add("reference AOT Grpc.Net.Client stream open RssAnon", grpc.RssAnonMiB, "MiB");
        var grpcX509 = await MeasureReferenceAsync(context.Options.ReferenceClient, ["fetch-x509-idle", stack.AgentSocket], settle);
        result.Add("reference AOT stream open + certificate loaded RSS", grpcX509.RssMiB, "MiB");
        result.Add("reference AOT stream open + certificate loaded RssAnon", grpcX509.RssAnonMiB, "MiB");

        result.Add("helper binary size", new FileInfo(context.Options.Helper).Length / 1048576.0, "MiB");
        result.Add("reference binary size", new FileInfo(context.Options.Reference).Length / 1048576.0, "MiB");
        result.Add("reference client binary size", new FileInfo(context.Options.ReferenceClient).Length / 1048576.0, "MiB");

        result.Notes.Add($"Measured {settle.TotalSeconds:0} s after the first write and the first 200 from /ready, from /proc/PID/status (VmRSS, RssAnon, RssFile). The helper runs in daemon mode with log_level info and the health listener on, against the MiniSpire agent.");
        result.Notes.Add(metrics
            ? "Metrics: the helper answered GET /metrics on the health listener, so they were on during the measurement."
            : "Metrics: this build of the helper does not serve /metrics on the health listener (the metrics feature is not merged here); the figure is without metrics.");
        result.Notes.Add("The reference is bench/Reference (`bench-reference idle`): a Native AOT program that prints a line and waits for SIGTERM, built in the same run: the floor any .NET Native AOT process pays.");
        result.Notes.Add("The library floors are bench/ReferenceClient (`bench-reference-client`), Native AOT like the helper: `fetch-idle` opens a FetchX509SVID stream to the same agent with Grpc.Net.Client over the Unix socket, reads the first message and keeps the stream open, as the helper's daemon does; `fetch-x509-idle` also loads the SVID's leaf certificate with X509CertificateLoader, which maps OpenSSL (libcrypto, libssl). Both are measured like the helper, the same time after they print ready: what a .NET daemon on these two libraries holds before any code of its own.");
        result.Notes.Add("The Go spiffe-helper v0.10 measures 14.9 MB RSS (1.8 MB anonymous) and a 24 MB binary on this kind of machine (figures from the issue, not measured in this run).");

        if (context.Options.GcVariants)
        {
            foreach (var (name, environment) in GcVariants)
            {
                var (variant, _) = await MeasureHelperAsync(context, stack.AgentSocket, settle, environment);
                result.Add($"helper RSS with {name}", variant.RssMiB, "MiB");
                result.Add($"helper RssAnon with {name}", variant.RssAnonMiB, "MiB");
            }

            result.Notes.Add("The GC variants run the same binary with DOTNET_ environment variables (hex values), which Native AOT reads at start-up; a winner becomes an MSBuild property in src/SpiffeHelper/SpiffeHelper.csproj.");
        }
    }

    private static async Task<(ProcMemory Memory, bool MetricsServed)> MeasureHelperAsync(
        BenchContext context, string agentSocket, TimeSpan settle, Dictionary<string, string>? environment)
    {
        var directory = context.WorkDirectory("idle-helper");
        var certDir = Path.Combine(directory, "certs");
        var port = Posix.FreeTcpPort();
        var config = HelperConfig.Write(directory, agentSocket, certDir, daemon: true, $"[health_checks];listener_enabled = true;bind_port = {port}");
        await using var helper = ChildProcess.Start(context.Options.Helper, ["-config", config], environment: environment);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var ready = false;
        await Posix.WaitUntilAsync(
            () => helper.HasExited || (HelperConfig.AllThreeWritten(certDir) && (ready = IsReady(http, port))),
            TimeSpan.FromSeconds(60),
            () => "the helper did not write its files and turn ready within 60 s:\n" + helper.Output);
        if (helper.HasExited || !ready)
        {
            throw new InvalidOperationException("the helper exited:\n" + helper.Output);
        }

        var metrics = Get(http, port, "/metrics") == 200;
        await Task.Delay(settle);
        return (ProcMemory.Read(helper.Id), metrics);
    }

    private static async Task<ProcMemory> MeasureReferenceAsync(string program, string[] arguments, TimeSpan settle)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var reference = ChildProcess.Start(program, arguments, line =>
        {
            if (line == "ready")
            {
                started.TrySetResult();
            }

            return true;
        });
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Task.Delay(settle);
        return ProcMemory.Read(reference.Id);
    }

    private static bool IsReady(HttpClient http, int port) => Get(http, port, "/ready") == 200;

    private static int Get(HttpClient http, int port, string path)
    {
        try
        {
            using var response = http.GetAsync(new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}{path}"))).GetAwaiter().GetResult();
            return (int)response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }
}
