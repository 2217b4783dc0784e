using System.Collections.Concurrent;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using MiniSpire.Agent.Attestation;
using MiniSpire.Agent.Cache;
using MiniSpire.Agent.WorkloadApi;
using MiniSpire.Entries;
using Spiffe;
using Spiffe.Testing;
using Spiffe.WorkloadApi;
using Spiffe.WorkloadApi.Proto;

namespace MiniSpire.Tests.Agent;

/// <summary>The agent's Workload API on a real Unix socket, called by the Spiffe library's client as a workload would.</summary>
public sealed class WorkloadApiServiceTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org");
    private readonly TestCertificateAuthority _partner = TestCertificateAuthority.Create("partner.org");
    private readonly TestJwtAuthority _jwt = new("example.org");
    private readonly AgentCache _cache = new();
    private readonly RecordingJwtSource _jwtSource;
    private readonly string _directory = Directory.CreateTempSubdirectory("agent-wl-").FullName;
    private readonly string _ownUid = new ProcessInspector().ReadIds(Environment.ProcessId)!.Uid.ToString(System.Globalization.CultureInfo.InvariantCulture);
    private WebApplication _app = null!;

    public WorkloadApiServiceTests() => _jwtSource = new RecordingJwtSource(_jwt);

    private string SocketPath => Path.Combine(_directory, "public", "api.sock");

    public async Task InitializeAsync()
    {
        _app = WorkloadApiEndpoint.Build(new WorkloadApiEndpointOptions(SocketPath, false), _cache, _jwtSource, TimeProvider.System);
        await _app.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _ca.Dispose();
        _partner.Dispose();
        _jwt.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void Socket_IsWorldWritable_AccessIsDecidedByAttestation()
    {
        Assert.Equal((UnixFileMode)0b111_111_111, File.GetUnixFileMode(SocketPath) & (UnixFileMode)0b111_111_111);
    }

    [Fact]
    public async Task Call_WithoutSecurityHeader_IsInvalidArgument()
    {
        using var channel = RawChannel();
        var raw = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => raw.FetchJWTSVIDAsync(new JWTSVIDRequest { Audience = { "a" } }).ResponseAsync.WaitAsync(Timeout));
        var wrong = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            using var call = raw.FetchX509SVID(new X509SVIDRequest(), new Metadata { { "workload.spiffe.io", "yes" } });
            await call.ResponseStream.MoveNext().WaitAsync(Timeout);
        });

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("security header missing from request", error.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, wrong.StatusCode);
    }

    [Fact]
    public async Task FetchX509Svid_RegisteredUid_GetsEveryMatchingIdentityDefaultFirstByEntryId()
    {
        SetBundles();
        var web = Entry("b-entry", "/web", [$"uid:{_ownUid}"]);
        var admin = Entry("a-entry", "/admin", [$"uid:{_ownUid}", "user:root"]);
        var other = Entry("c-entry", "/other", ["uid:99999"]);
        _cache.SetEntries([web, admin, other]);
        var webSvid = Sign(web);
        var adminSvid = Sign(admin);
        Sign(other);

        using var client = Client();
        using var context = await client.FetchX509ContextAsync().WaitAsync(Timeout);

        Assert.Equal(["spiffe://example.org/admin", "spiffe://example.org/web"], context.Svids.Select(s => s.Id.ToString()));
        Assert.Equal(adminSvid.Leaf.SerialNumber, context.DefaultSvid.Leaf.SerialNumber);
        Assert.Equal(webSvid.Leaf.SerialNumber, context.Svids[1].Leaf.SerialNumber);
        context.DefaultSvid.Verify(context.Bundles, DateTimeOffset.UtcNow);
    }

    [Fact]
    public async Task FetchX509Svid_NoMatchingEntry_IsPermissionDenied()
    {
        SetBundles();
        var entry = Entry("e1", "/someone-else", ["uid:99999"]);
        _cache.SetEntries([entry]);
        Sign(entry);
        using var client = Client();

        var error = await Assert.ThrowsAsync<RpcException>(() => client.FetchX509ContextAsync().WaitAsync(Timeout));

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Equal("no identity issued", error.Status.Detail);
    }

    [Fact]
    public async Task FetchX509Svid_WaitsForTheSvidThenStreamsEveryRotation()
    {
        SetBundles();
        var entry = Entry("e1", "/web", [$"uid:{_ownUid}"]);
        _cache.SetEntries([entry]);
        using var client = Client();
        await using var watch = client.WatchX509ContextsAsync().GetAsyncEnumerator();
        var first = watch.MoveNextAsync().AsTask();

        await Task.Delay(200);
        Assert.False(first.IsCompleted, "a subscriber must wait until its SVID exists");
        var issued = Sign(entry);
        Assert.True(await first.WaitAsync(Timeout));
        using (var context = watch.Current)
        {
            Assert.Equal(issued.Leaf.SerialNumber, context.DefaultSvid.Leaf.SerialNumber);
        }

        var rotated = Sign(entry);
        Assert.True(await watch.MoveNextAsync().AsTask().WaitAsync(Timeout));
        using (var context = watch.Current)
        {
            Assert.Equal(rotated.Leaf.SerialNumber, context.DefaultSvid.Leaf.SerialNumber);
        }
    }

    [Fact]
    public async Task FetchX509Svid_EntryDeletedWhileStreaming_EndsTheStreamWithPermissionDenied()
    {
        SetBundles();
        var entry = Entry("e1", "/web", [$"uid:{_ownUid}"]);
        _cache.SetEntries([entry]);
        Sign(entry);
        using var channel = RawChannel();
        var raw = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel);
        using var call = raw.FetchX509SVID(new X509SVIDRequest(), new Metadata { { "workload.spiffe.io", "true" } });
        Assert.True(await call.ResponseStream.MoveNext().WaitAsync(Timeout));

        _cache.SetEntries([]);
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext().WaitAsync(Timeout));

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
    }

    [Fact]
    public async Task FetchX509Svid_FederatedBundles_OnlyThoseTheEntriesFederateWith()
    {
        SetBundles(withPartner: true);
        var plain = Entry("e1", "/plain", [$"uid:{_ownUid}"]);
        _cache.SetEntries([plain]);
        Sign(plain);
        using var client = Client();
        using (var context = await client.FetchX509ContextAsync().WaitAsync(Timeout))
        {
            Assert.Equal(["example.org"], context.Bundles.Bundles.Select(b => b.TrustDomain.Name));
        }

        var federated = plain with { FederatesWith = [TrustDomain.Parse("partner.org")] };
        _cache.SetEntries([federated]);
        Sign(federated);
        using var again = await client.FetchX509ContextAsync().WaitAsync(Timeout);

        Assert.Equal(["example.org", "partner.org"], again.Bundles.Bundles.Select(b => b.TrustDomain.Name));
        Assert.Equal(_partner.Root.RawData, again.Bundles.GetBundle(TrustDomain.Parse("partner.org")).Authorities.Single().RawData);
    }

    [Fact]
    public async Task FetchX509Svid_DuplicateHints_OnlyTheFirstIsSent()
    {
        SetBundles();
        var first = Entry("e1", "/one", [$"uid:{_ownUid}"]) with { Hint = "db" };
        var second = Entry("e2", "/two", [$"uid:{_ownUid}"]) with { Hint = "db" };
        _cache.SetEntries([first, second]);
        Sign(first);
        Sign(second);
        using var client = Client();

        using var context = await client.FetchX509ContextAsync().WaitAsync(Timeout);

        Assert.Equal("spiffe://example.org/one", Assert.Single(context.Svids).Id.ToString());
        Assert.Equal("db", context.DefaultSvid.Hint);
    }

    [Fact]
    public async Task BundleStreams_SendBundlesAndEveryChange()
    {
        SetBundles();
        var entry = Entry("e1", "/web", [$"uid:{_ownUid}"]);
        _cache.SetEntries([entry]);
        using var client = Client();
        await using var x509 = client.WatchX509BundlesAsync().GetAsyncEnumerator();
        await using var jwt = client.WatchJwtBundlesAsync().GetAsyncEnumerator();

        Assert.True(await x509.MoveNextAsync().AsTask().WaitAsync(Timeout));
        Assert.True(await jwt.MoveNextAsync().AsTask().WaitAsync(Timeout));
        Assert.Equal(_ca.Root.RawData, x509.Current.GetBundle(_ca.TrustDomain).Authorities.Single().RawData);
        Assert.True(jwt.Current.TryGetBundle(_ca.TrustDomain, out var jwtBundle));
        Assert.Equal(_jwt.KeyId, jwtBundle!.Authorities.Single().KeyId);

        // The CA publishes a second authority (rotation prepared): the X.509 bundle stream says so.
        using var next = TestCertificateAuthority.Create("example.org");
        _cache.SetBundles(new CachedBundle(_ca.TrustDomain, [_ca.Root.RawData, next.Root.RawData], _jwt.Bundle.ToJwks()), []);
        Assert.True(await x509.MoveNextAsync().AsTask().WaitAsync(Timeout));
        Assert.Equal(2, x509.Current.GetBundle(_ca.TrustDomain).Authorities.Count);
    }

    [Fact]
    public async Task FetchJwtSvid_MintsForEachIdentityAndAudience()
    {
        SetBundles();
        var entry = Entry("e1", "/web", [$"uid:{_ownUid}"]);
        _cache.SetEntries([entry]);
        using var client = Client();

        var svids = await client.FetchJwtSvidsAsync(["api", "db"]).WaitAsync(Timeout);

        var svid = Assert.Single(svids);
        Assert.Equal("spiffe://example.org/web", svid.Id.ToString());
        Assert.Equal(["api", "db"], svid.Audience);
        Assert.Equal(("e1", "api,db"), Assert.Single(_jwtSource.Requests));
    }

    [Fact]
    public async Task FetchJwtSvid_ForAnIdThatIsNotTheCallers_IsPermissionDenied()
    {
        SetBundles();
        _cache.SetEntries([Entry("e1", "/web", [$"uid:{_ownUid}"])]);
        using var client = Client();

        var error = await Assert.ThrowsAsync<RpcException>(() => client.FetchJwtSvidsAsync(["api"], SpiffeId.Parse("spiffe://example.org/other")).WaitAsync(Timeout));

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Empty(_jwtSource.Requests);
    }

    [Fact]
    public async Task FetchJwtSvid_EmptyAudience_IsInvalidArgument()
    {
        using var channel = RawChannel();
        var raw = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => raw.FetchJWTSVIDAsync(new JWTSVIDRequest(), Header).ResponseAsync.WaitAsync(Timeout));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    [Fact]
    public async Task ValidateJwtSvid_ChecksSignatureAudienceAndReturnsClaims()
    {
        SetBundles();
        _cache.SetEntries([Entry("e1", "/web", [$"uid:{_ownUid}"])]);
        using var channel = RawChannel();
        var raw = new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel);
        var token = _jwt.Mint("spiffe://example.org/caller", ["api"]);

        var valid = await raw.ValidateJWTSVIDAsync(new ValidateJWTSVIDRequest { Audience = "api", Svid = token }, Header).ResponseAsync.WaitAsync(Timeout);
        var wrongAudience = await Assert.ThrowsAsync<RpcException>(() => raw.ValidateJWTSVIDAsync(new ValidateJWTSVIDRequest { Audience = "db", Svid = token }, Header).ResponseAsync.WaitAsync(Timeout));
        var garbage = await Assert.ThrowsAsync<RpcException>(() => raw.ValidateJWTSVIDAsync(new ValidateJWTSVIDRequest { Audience = "api", Svid = "not.a.token" }, Header).ResponseAsync.WaitAsync(Timeout));
        var empty = await Assert.ThrowsAsync<RpcException>(() => raw.ValidateJWTSVIDAsync(new ValidateJWTSVIDRequest { Audience = "api" }, Header).ResponseAsync.WaitAsync(Timeout));

        Assert.Equal("spiffe://example.org/caller", valid.SpiffeId);
        Assert.Equal("spiffe://example.org/caller", valid.Claims.Fields["sub"].StringValue);
        Assert.Equal(StatusCode.InvalidArgument, wrongAudience.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, garbage.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
        Assert.Equal("svid must be specified", empty.Status.Detail);
    }

    private static Metadata Header => new() { { "workload.spiffe.io", "true" } };

    private WorkloadApiClient Client() => new(new WorkloadApiClientOptions
    {
        Address = WorkloadApiAddress.Parse("unix://" + SocketPath),
        InitialRetryDelay = TimeSpan.FromMilliseconds(50),
    });

    private GrpcChannel RawChannel() => GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions
    {
        HttpHandler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, token) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath), token);
                return new NetworkStream(socket, ownsSocket: true);
            },
        },

        // Without it, disposing the channel leaves its connection (and the agent's end) open.
        DisposeHttpClient = true,
    });

    private static CachedEntry Entry(string id, string path, IReadOnlyList<string> unixSelectors) =>
        new(id, SpiffeId.Parse("spiffe://example.org" + path), [.. unixSelectors.Select(s => new Selector("unix", s))], [], string.Empty, 1);

    private TestSvid Sign(CachedEntry entry)
    {
        var issued = _ca.Issue(entry.SpiffeId.ToString());
        _cache.SetSvid(entry.Id, new CachedX509Svid(issued.ChainDer, issued.KeyPkcs8, issued.Leaf.NotBefore, issued.Leaf.NotAfter));
        return issued;
    }

    private void SetBundles(bool withPartner = false) => _cache.SetBundles(
        new CachedBundle(_ca.TrustDomain, [_ca.Root.RawData], _jwt.Bundle.ToJwks()),
        withPartner ? [new CachedBundle(_partner.TrustDomain, [_partner.Root.RawData], """{"keys":[]}"""u8.ToArray())] : []);

    private sealed class RecordingJwtSource(TestJwtAuthority authority) : IJwtSvidSource
    {
        public ConcurrentQueue<(string EntryId, string Audience)> Requests { get; } = new();

        public Task<string> GetAsync(CachedEntry entry, IReadOnlyList<string> audience, CancellationToken cancellationToken)
        {
            Requests.Enqueue((entry.Id, string.Join(',', audience)));
            return Task.FromResult(authority.Mint(entry.SpiffeId.ToString(), audience));
        }
    }
}
