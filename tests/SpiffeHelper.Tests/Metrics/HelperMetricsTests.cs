using System.Globalization;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Spiffe;
using Spiffe.Testing;
using Spiffe.WorkloadApi;
using SpiffeHelper.Config;
using SpiffeHelper.Delivery;
using SpiffeHelper.Health;
using SpiffeHelper.Metrics;
using SpiffeHelper.Tests.Delivery;

namespace SpiffeHelper.Tests.Metrics;

public sealed class HelperMetricsTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(Now);
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org", time: new FakeTimeProvider(Now.AddHours(-1)), caTtl: TimeSpan.FromDays(2));
    private readonly TestCertificateAuthority _federated = TestCertificateAuthority.Create("other.org", time: new FakeTimeProvider(Now.AddHours(-1)), caTtl: TimeSpan.FromDays(5));
    private bool _ready;

    public void Dispose()
    {
        _ca.Dispose();
        _federated.Dispose();
    }

    private HelperMetrics NewMetrics() => new("1.2.3", () => _ready, _time);

    /// <summary>The value of the one sample whose line starts with <paramref name="series"/>, or null.</summary>
    private static double? Value(string text, string series)
    {
        var line = text.Split('\n').SingleOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? null : double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
    }

    private static double Seconds(DateTimeOffset at) => at.ToUnixTimeMilliseconds() / 1000.0;

    [Fact]
    public void Render_BeforeAnything_HasEveryFamilyZeroCountersNotReadyAndBuildInfo()
    {
        var text = NewMetrics().Render();

        foreach (var name in ContractMetricNames())
        {
            Assert.Contains($"# TYPE {name} ", text, StringComparison.Ordinal);
        }

        Assert.Equal(0, Value(text, "spiffe_helper_rotations_total"));
        Assert.Equal(0, Value(text, "spiffe_helper_write_failures_total{output=\"x509\"}"));
        Assert.Equal(0, Value(text, "spiffe_helper_stream_reconnects_total{rpc=\"FetchX509SVID\"}"));
        Assert.Equal(0, Value(text, "spiffe_helper_ready"));
        Assert.All(SpiffeHelper.Health.RefusalReasons.All, reason => Assert.Equal(0, Value(text, $"spiffe_helper_x509_updates_refused_total{{reason=\"{reason}\"}}")));
        Assert.Equal(1, Value(text, "spiffe_helper_build_info{version=\"1.2.3\"}"));
        Assert.DoesNotContain("spiffe_helper_x509_svid_expiry_timestamp_seconds{", text, StringComparison.Ordinal);
    }

    [Fact]
    public void X509Written_FromAContext_ReportsSvidTimesLifetimeWriteTimeAndOwnBundleOnly()
    {
        var metrics = NewMetrics();
        var svid = _ca.Issue("/web", new TestSvidOptions { NotBefore = Now.AddMinutes(-1), Ttl = TimeSpan.FromMinutes(10) });
        var response = _ca.Response(svid);
        response.FederatedBundles.Add("other.org", ByteString.CopyFrom(_federated.Root.RawData));
        using var context = WorkloadApiResponses.ToX509Context(response);

        metrics.X509Written(CredentialFiles.Build(context, CredentialFilesTests.Options(), Now));
        _ready = true;
        var text = metrics.Render();

        const string Id = "{spiffe_id=\"spiffe://example.org/web\"}";
        Assert.Equal(Seconds(new DateTimeOffset(svid.Leaf.NotAfter.ToUniversalTime())), Value(text, "spiffe_helper_x509_svid_expiry_timestamp_seconds" + Id));
        Assert.Equal(Seconds(new DateTimeOffset(svid.Leaf.NotBefore.ToUniversalTime())), Value(text, "spiffe_helper_x509_svid_issued_timestamp_seconds" + Id));
        Assert.Equal((svid.Leaf.NotAfter - svid.Leaf.NotBefore).TotalSeconds, Value(text, "spiffe_helper_x509_svid_lifetime_seconds" + Id));
        Assert.Equal(Seconds(Now), Value(text, "spiffe_helper_last_successful_write_timestamp_seconds{output=\"x509\"}"));
        Assert.Equal(1, Value(text, "spiffe_helper_rotations_total"));
        Assert.Equal(1, Value(text, "spiffe_helper_ready"));
        var caNotAfter = Seconds(new DateTimeOffset(_ca.Root.NotAfter.ToUniversalTime()));
        Assert.Equal(caNotAfter, Value(text, "spiffe_helper_bundle_ca_earliest_expiry_timestamp_seconds{trust_domain=\"example.org\"}"));
        Assert.Equal(caNotAfter, Value(text, "spiffe_helper_bundle_ca_latest_expiry_timestamp_seconds{trust_domain=\"example.org\"}"));

        // Federated CAs are not in the bundle file unless include_federated_domains.
        Assert.DoesNotContain("trust_domain=\"other.org\"", text, StringComparison.Ordinal);
        metrics.X509Written(CredentialFiles.Build(context, CredentialFilesTests.Options(includeFederated: true), Now));
        Assert.Equal(
            Seconds(new DateTimeOffset(_federated.Root.NotAfter.ToUniversalTime())),
            Value(metrics.Render(), "spiffe_helper_bundle_ca_latest_expiry_timestamp_seconds{trust_domain=\"other.org\"}"));
    }

    [Fact]
    public void X509Written_NewSpiffeId_ReplacesTheOldSeriesSoCardinalityStaysOne()
    {
        var metrics = NewMetrics();
        var none = new Dictionary<string, (DateTimeOffset, DateTimeOffset)>();
        metrics.X509Written("spiffe://example.org/old", Now, Now.AddHours(1), none);
        _time.Advance(TimeSpan.FromMinutes(5));
        metrics.X509Written("spiffe://example.org/new", Now, Now.AddHours(2), none);

        var text = metrics.Render();

        Assert.DoesNotContain("spiffe://example.org/old", text, StringComparison.Ordinal);
        Assert.Equal(7200, Value(text, "spiffe_helper_x509_svid_lifetime_seconds{spiffe_id=\"spiffe://example.org/new\"}"));
        Assert.Equal(2, Value(text, "spiffe_helper_rotations_total"));
        Assert.Equal(Seconds(Now.AddMinutes(5)), Value(text, "spiffe_helper_last_successful_write_timestamp_seconds{output=\"x509\"}"));
    }

    [Fact]
    public void JwtSvidWritten_SetsExpiryPerAudienceAndTheJwtOutputsWriteTime()
    {
        var metrics = NewMetrics();

        metrics.JwtSvidWritten("db", Now.AddMinutes(5));
        metrics.JwtSvidWritten("api \"v2\"", Now.AddMinutes(7));
        metrics.JwtSvidWritten("db", Now.AddMinutes(9));
        var text = metrics.Render();

        Assert.Equal(Seconds(Now.AddMinutes(9)), Value(text, "spiffe_helper_jwt_svid_expiry_timestamp_seconds{audience=\"db\"}"));
        Assert.Equal(Seconds(Now.AddMinutes(7)), Value(text, "spiffe_helper_jwt_svid_expiry_timestamp_seconds{audience=\"api \\\"v2\\\"\"}"));
        Assert.Equal(Seconds(Now), Value(text, "spiffe_helper_last_successful_write_timestamp_seconds{output=\"jwt_svid\"}"));
        Assert.Equal(0, Value(text, "spiffe_helper_rotations_total"));
    }

    [Fact]
    public void Counters_CountEachEventUnderItsBoundedLabels()
    {
        var metrics = NewMetrics();

        metrics.WriteFailed(HelperMetrics.X509Output);
        metrics.WriteFailed(HelperMetrics.X509Output);
        metrics.WorkloadApiFailed(new WorkloadApiFailure("FetchX509SVID", WorkloadApiFailureKind.Status, StatusCode.Unavailable, new RpcException(new Status(StatusCode.Unavailable, "down")), TimeSpan.FromSeconds(1)));
        metrics.WorkloadApiFailed(new WorkloadApiFailure("FetchX509SVID", WorkloadApiFailureKind.Status, StatusCode.Unavailable, new RpcException(new Status(StatusCode.Unavailable, "down")), TimeSpan.FromSeconds(2)));
        metrics.WorkloadApiFailed(new WorkloadApiFailure("FetchX509SVID", WorkloadApiFailureKind.Status, StatusCode.PermissionDenied, new RpcException(new Status(StatusCode.PermissionDenied, "no entry")), TimeSpan.FromSeconds(1)));
        metrics.WorkloadApiFailed(new WorkloadApiFailure("FetchX509SVID", WorkloadApiFailureKind.StreamEnded, null, new InvalidOperationException("ended"), TimeSpan.FromSeconds(1)));
        metrics.StreamReconnected("FetchX509SVID");
        metrics.SignalDelivery(HelperMetrics.ChildTarget, delivered: true);
        metrics.SignalDelivery(HelperMetrics.PidFileTarget, delivered: false);
        metrics.SignalDelivery(HelperMetrics.PidFileTarget, delivered: false);
        metrics.ChildRestarted();
        var text = metrics.Render();

        Assert.Equal(2, Value(text, "spiffe_helper_write_failures_total{output=\"x509\"}"));
        Assert.Equal(2, Value(text, "spiffe_helper_workload_api_errors_total{rpc=\"FetchX509SVID\",code=\"Unavailable\"}"));
        Assert.Equal(1, Value(text, "spiffe_helper_workload_api_errors_total{rpc=\"FetchX509SVID\",code=\"PermissionDenied\"}"));
        Assert.Equal(1, Value(text, "spiffe_helper_workload_api_errors_total{rpc=\"FetchX509SVID\",code=\"StreamEnded\"}"));
        Assert.Equal(1, Value(text, "spiffe_helper_stream_reconnects_total{rpc=\"FetchX509SVID\"}"));
        Assert.Equal(1, Value(text, "spiffe_helper_signal_deliveries_total{target=\"child\",result=\"delivered\"}"));
        Assert.Equal(2, Value(text, "spiffe_helper_signal_deliveries_total{target=\"pid_file\",result=\"failed\"}"));
        Assert.Equal(1, Value(text, "spiffe_helper_child_restarts_total"));
    }

    [Fact]
    public async Task Render_AfterEveryKindOfEvent_PassesPromtoolCheckMetrics()
    {
        var metrics = NewMetrics();
        metrics.X509Written("spiffe://example.org/web", Now, Now.AddMinutes(10), new Dictionary<string, (DateTimeOffset, DateTimeOffset)> { ["example.org"] = (Now.AddDays(1), Now.AddDays(2)) });
        metrics.JwtSvidWritten("db", Now.AddMinutes(5));
        metrics.OutputWritten(HelperMetrics.JwtBundleOutput);
        metrics.WriteFailed(HelperMetrics.X509Output);
        metrics.WorkloadApiFailed(new WorkloadApiFailure("FetchX509SVID", WorkloadApiFailureKind.InvalidResponse, null, new InvalidOperationException("bad"), null));
        metrics.StreamReconnected("FetchX509SVID");
        metrics.SignalDelivery(HelperMetrics.ChildTarget, delivered: true);
        metrics.ChildRestarted();

        var result = await PromtoolCheckAsync(metrics.Render());

        Assert.True(result.ExitCode == 0, result.ToString());
    }

    [Fact]
    public async Task PromtoolCheckMetrics_CanFail_OnACounterWithoutTotal()
    {
        // Proves the check above can fail: the same linter rejects a counter named against the conventions.
        var broken = NewMetrics().Render().Replace("spiffe_helper_rotations_total", "spiffe_helper_rotations", StringComparison.Ordinal);

        var result = await PromtoolCheckAsync(broken);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("spiffe_helper_rotations", result.StandardOutput + result.StandardError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthServer_MetricsPath_ServesTheExpositionOnlyWhenMetricsAreGiven()
    {
        var state = new HealthState(["svid.pem"], _time);
        var metrics = new HelperMetrics("1.2.3", () => state.Report().Ready, _time);
        state.Written(Now.AddHours(1));
        var options = HealthOptions.Default with { BindPort = 0, MetricsPath = "/prom" };
        await using var withMetrics = new HealthServer(options, state, NullLogger<HealthServer>.Instance, metrics);
        await using var without = new HealthServer(options, state, NullLogger<HealthServer>.Instance);
        withMetrics.Start();
        without.Start();
        using var http = new HttpClient();

        using var served = await http.GetAsync(new Uri($"http://127.0.0.1:{withMetrics.Port}/prom"));
        using var missing = await http.GetAsync(new Uri($"http://127.0.0.1:{without.Port}/prom"));

        Assert.Equal(System.Net.HttpStatusCode.OK, served.StatusCode);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", served.Content.Headers.ContentType?.ToString());
        Assert.Equal(1, Value(await served.Content.ReadAsStringAsync(), "spiffe_helper_ready"));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, missing.StatusCode);
    }

    /// <summary>Every metric name in the contract table of examples/prometheus/README.md.</summary>
    internal static IReadOnlyList<string> ContractMetricNames()
    {
        var readme = File.ReadAllLines(Path.Combine(ProcessRunner.RepositoryRoot, "examples", "prometheus", "README.md"));
        var names = readme.Where(l => l.StartsWith("| `spiffe_helper_", StringComparison.Ordinal))
            .Select(l => l.Split('`')[1]).ToList();
        Assert.Equal(17, names.Count);
        return names;
    }

    private static async Task<ProcessResult> PromtoolCheckAsync(string exposition)
    {
        var file = Path.Combine(Path.GetTempPath(), "metrics-" + Guid.NewGuid().ToString("N") + ".txt");
        await File.WriteAllTextAsync(file, exposition);
        try
        {
            // promtool reads the exposition on stdin; a shell redirect keeps ProcessRunner as it is.
            return await ProcessRunner.RunAsync("sh", ["-c", "promtool check metrics < \"$1\"", "sh", file], TimeSpan.FromMinutes(1));
        }
        finally
        {
            File.Delete(file);
        }
    }
}
