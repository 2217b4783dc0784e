using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Spiffe.Testing;
using Spiffe.WorkloadApi;
using Spiffe.WorkloadApi.Proto;

namespace Spiffe.Tests;

public sealed class WorkloadApiClientTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(20);

    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org");
    private readonly ConcurrentQueue<WorkloadApiFailure> _failures = new();
    private readonly ConcurrentQueue<string> _reconnects = new();
    private FakeWorkloadApi _server = null!;

    public async Task InitializeAsync() => _server = await FakeWorkloadApi.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _ca.Dispose();
    }

    [Fact]
    public async Task FetchX509Context_SendsTheSecurityHeaderOnEveryCall()
    {
        _server.State.SetX509Response(_ca.Response(_ca.Issue("/a")));
        using var client = CreateClient();

        using (await client.FetchX509ContextAsync().WaitAsync(Timeout))
        {
        }

        using (await client.FetchX509ContextAsync().WaitAsync(Timeout))
        {
        }

        Assert.Equal(["true", "true"], _server.State.SecurityHeaders);
    }

    [Fact]
    public async Task Watch_YieldsFirstSnapshotThenEveryRotation()
    {
        _server.State.SetX509Response(_ca.Response(_ca.Issue("/a")));
        using var client = CreateClient();
        await using var watch = client.WatchX509ContextsAsync().GetAsyncEnumerator();

        using var first = await NextAsync(watch);
        var rotated = _ca.Issue("/a");
        _server.State.SetX509Response(_ca.Response(rotated));
        using var second = await NextAsync(watch);

        Assert.Equal("spiffe://example.org/a", first.DefaultSvid.Id.ToString());
        Assert.Equal(rotated.Leaf.SerialNumber, second.DefaultSvid.Leaf.SerialNumber);
        Assert.Equal(1, _server.State.Calls("FetchX509SVID"));
    }

    [Theory]
    [InlineData(StatusCode.PermissionDenied)]
    [InlineData(StatusCode.Unavailable)]
    [InlineData(StatusCode.Unauthenticated)]
    [InlineData(StatusCode.Internal)]
    public async Task Watch_TransientStatus_RetriesWithGrowingBackoff(StatusCode code)
    {
        _server.State.FailNextX509Calls(new Status(code, "not yet"), new Status(code, "not yet"), new Status(code, "not yet"));
        _server.State.SetX509Response(_ca.Response(_ca.Issue("/late")));
        using var client = CreateClient();
        await using var watch = client.WatchX509ContextsAsync().GetAsyncEnumerator();

        using var context = await NextAsync(watch);

        Assert.Equal("spiffe://example.org/late", context.DefaultSvid.Id.ToString());
        Assert.Equal(4, _server.State.Calls("FetchX509SVID"));
        Assert.Equal([code, code, code], _failures.Select(f => f.StatusCode!.Value));
        Assert.Equal([Step, Step * 2, Step * 3], _failures.Select(f => f.RetryIn!.Value));
    }

    [Theory]
    [InlineData(StatusCode.InvalidArgument)]
    [InlineData(StatusCode.Unimplemented)]
    public async Task Watch_FatalStatus_StopsWithoutRetry(StatusCode code)
    {
        _server.State.FailNextX509Calls(new Status(code, "bad request"));
        using var client = CreateClient();
        await using var watch = client.WatchX509ContextsAsync().GetAsyncEnumerator();

        var error = await Assert.ThrowsAsync<RpcException>(() => watch.MoveNextAsync().AsTask().WaitAsync(Timeout));

        Assert.Equal(code, error.StatusCode);
        Assert.Equal(1, _server.State.Calls("FetchX509SVID"));
        var failure = Assert.Single(_failures);
        Assert.Null(failure.RetryIn);
    }

    [Fact]
    public async Task Watch_StreamBrokenMidway_ReconnectsAndBackoffStartsOverAfterAMessage()
    {
        _server.State.SetX509Response(_ca.Response(_ca.Issue("/a")));
        using var client = CreateClient();
        await using var watch = client.WatchX509ContextsAsync().GetAsyncEnumerator();
        using var first = await NextAsync(watch);

        _server.State.FailOpenStreams(new Status(StatusCode.Unavailable, "agent restarting"));
        using var again = await NextAsync(watch);
        _server.State.FailOpenStreams(new Status(StatusCode.Unavailable, "agent restarting"));
        using var third = await NextAsync(watch);

        Assert.Equal(3, _server.State.Calls("FetchX509SVID"));
        Assert.All(_failures, f => Assert.Equal(Step, f.RetryIn));
        Assert.Equal(2, _failures.Count);
        Assert.Equal(["FetchX509SVID", "FetchX509SVID"], _reconnects);
    }

    [Fact]
    public async Task Watch_StreamEndedByServer_Reconnects()
    {
        _server.State.SetX509Response(_ca.Response(_ca.Issue("/a")));
        using var client = CreateClient();
        await using var watch = client.WatchX509ContextsAsync().GetAsyncEnumerator();
        using var first = await NextAsync(watch);

        _server.State.EndAllStreams();
        using var second = await NextAsync(watch);

        Assert.Equal(WorkloadApiFailureKind.StreamEnded, Assert.Single(_failures).Kind);
        Assert.Equal(2, _server.State.Calls("FetchX509SVID"));
    }

    [Fact]
    public async Task Watch_InvalidMessage_IsDroppedAndTheNextGoodOneArrives()
    {
        _server.State.SetX509Response(_ca.Response(_ca.Issue("/a")));
        using var client = CreateClient();
        await using var watch = client.WatchX509ContextsAsync().GetAsyncEnumerator();
        using var first = await NextAsync(watch);

        var broken = _ca.Response(_ca.Issue("/b"));
        broken.Svids[0].X509SvidKey = ByteString.Empty;
        _server.State.SetX509Response(broken);
        await WaitUntil(() => !_failures.IsEmpty);
        _server.State.SetX509Response(_ca.Response(_ca.Issue("/c")));
        using var next = await NextAsync(watch);

        Assert.Equal("spiffe://example.org/c", next.DefaultSvid.Id.ToString());
        var failure = Assert.Single(_failures);
        Assert.Equal(WorkloadApiFailureKind.InvalidResponse, failure.Kind);
        Assert.Contains("x509_svid_key", failure.Exception.Message, StringComparison.Ordinal);
        Assert.Equal(1, _server.State.Calls("FetchX509SVID"));
        Assert.Empty(_reconnects); // the stream never broke
    }

    [Fact]
    public async Task Watch_AgentAbsentAtStart_ConnectsOnceItAppears()
    {
        var directory = Directory.CreateTempSubdirectory("late-agent-");
        var socket = Path.Combine(directory.FullName, "api.sock");
        using var client = new WorkloadApiClient(Options(WorkloadApiAddress.Parse("unix://" + socket)));
        await using var watch = client.WatchX509ContextsAsync().GetAsyncEnumerator();
        var next = watch.MoveNextAsync().AsTask();

        await WaitUntil(() => _failures.Count >= 2);
        await using var late = await FakeWorkloadApi.StartAsync(socket);
        late.State.SetX509Response(_ca.Response(_ca.Issue("/a")));

        Assert.True(await next.WaitAsync(Timeout));
        using var context = watch.Current;
        Assert.All(_failures, f => Assert.Equal(StatusCode.Unavailable, f.StatusCode));
        Assert.All(_failures, f => Assert.Equal($"no Workload API socket at {socket} (No such file or directory)", f.Reason));
        directory.Delete(recursive: true);
    }

    [Fact]
    public async Task Watch_Cancelled_EndsAndStopsCalling()
    {
        _server.State.SetX509Response(_ca.Response(_ca.Issue("/a")));
        using var client = CreateClient();
        using var cancel = new CancellationTokenSource();
        await using var watch = client.WatchX509ContextsAsync(cancel.Token).GetAsyncEnumerator();
        using var first = await NextAsync(watch);

        var pending = watch.MoveNextAsync().AsTask();
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(Timeout));
        await Task.Delay(Step * 5);
        Assert.Equal(1, _server.State.Calls("FetchX509SVID"));
        Assert.Empty(_failures);
    }

    [Fact]
    public async Task WatchBundles_YieldX509AndJwtBundleSets()
    {
        using var jwt = new TestJwtAuthority();
        var x509 = new X509BundlesResponse();
        x509.Bundles.Add("spiffe://example.org", ByteString.CopyFrom(_ca.Root.RawData));
        var jwks = new JWTBundlesResponse();
        jwks.Bundles.Add("spiffe://example.org", ByteString.CopyFrom(jwt.Bundle.ToJwks()));
        _server.State.SetX509BundlesResponse(x509);
        _server.State.SetJwtBundlesResponse(jwks);
        using var client = CreateClient();

        await using var x509Watch = client.WatchX509BundlesAsync().GetAsyncEnumerator();
        await using var jwtWatch = client.WatchJwtBundlesAsync().GetAsyncEnumerator();
        var x509Set = await NextAsync(x509Watch);
        var jwtSet = await NextAsync(jwtWatch);

        Assert.Equal(_ca.Root.RawData, x509Set.GetBundle(_ca.TrustDomain).Authorities.Single().RawData);
        Assert.True(jwtSet.TryGetBundle(_ca.TrustDomain, out var jwtBundle));
        Assert.Equal(jwt.KeyId, jwtBundle!.Authorities.Single().KeyId);
        Assert.Equal(1, (await client.FetchJwtBundlesAsync().WaitAsync(Timeout)).Count);
        Assert.Equal(1, (await client.FetchX509BundlesAsync().WaitAsync(Timeout)).Count);
    }

    [Fact]
    public async Task FetchJwtSvids_SendsAudienceAndParsesTheTokens()
    {
        using var jwt = new TestJwtAuthority();
        JWTSVIDRequest? seen = null;
        _server.State.JwtSvidHandler = request =>
        {
            seen = request;
            var response = new JWTSVIDResponse();
            response.Svids.Add(new JWTSVID { SpiffeId = "spiffe://example.org/a", Svid = jwt.Mint("spiffe://example.org/a", [.. request.Audience]) });
            return response;
        };
        using var client = CreateClient();

        var svids = await client.FetchJwtSvidsAsync(["api", "db"], SpiffeId.Parse("spiffe://example.org/a")).WaitAsync(Timeout);

        Assert.Equal(["api", "db"], seen!.Audience);
        Assert.Equal("spiffe://example.org/a", seen.SpiffeId);
        Assert.Equal(["api", "db"], Assert.Single(svids).Audience);
        await Assert.ThrowsAsync<ArgumentException>(() => client.FetchJwtSvidsAsync([]));
    }

    [Fact]
    public async Task ValidateJwtSvid_ReturnsTheSubjectTheAgentConfirmed()
    {
        using var jwt = new TestJwtAuthority();
        var token = jwt.Mint("spiffe://example.org/a", ["api"]);
        _server.State.ValidateHandler = request => new ValidateJWTSVIDResponse { SpiffeId = "spiffe://example.org/a" };
        using var client = CreateClient();

        var svid = await client.ValidateJwtSvidAsync(token, "api").WaitAsync(Timeout);

        Assert.Equal("spiffe://example.org/a", svid.Id.ToString());
    }

    [Fact]
    public async Task FetchJwtSvids_NoIdentity_SurfacesPermissionDenied()
    {
        using var client = CreateClient();

        var error = await Assert.ThrowsAsync<RpcException>(() => client.FetchJwtSvidsAsync(["api"]).WaitAsync(Timeout));

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
    }

    private WorkloadApiClient CreateClient() => new(Options(WorkloadApiAddress.Parse(_server.Address)));

    private WorkloadApiClientOptions Options(WorkloadApiAddress address) => new()
    {
        Address = address,
        InitialRetryDelay = Step,
        MaxRetryDelay = Step * 10,
        OnFailure = _failures.Enqueue,
        OnReconnected = _reconnects.Enqueue,
    };

    private static async Task<T> NextAsync<T>(IAsyncEnumerator<T> watch)
    {
        Assert.True(await watch.MoveNextAsync().AsTask().WaitAsync(Timeout), "the watch ended");
        return watch.Current;
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        using var deadline = new CancellationTokenSource(Timeout);
        while (!condition())
        {
            await Task.Delay(10, deadline.Token);
        }
    }
}
