using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using MiniSpire.Proto;
using MiniSpire.Tests.Support;
using Spiffe;
using Spiffe.Jwt;
using Spiffe.Testing;
using Spiffe.X509;
using X509Svid = Spiffe.X509.X509Svid;

namespace MiniSpire.Tests.Integration;

public sealed class AgentApiTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task SyncEntries_NoClientCertificate_Unauthenticated()
    {
        var (channel, client) = await _server.AgentClientAsync();
        using var _ = channel;

        var error = await Assert.ThrowsAsync<RpcException>(() => client.SyncEntriesAsync(new SyncEntriesRequest()).ResponseAsync.Within());

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Contains("client certificate", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SyncEntries_CertificateFromAnotherCaWithAnAgentId_Unauthenticated()
    {
        using var stranger = TestCertificateAuthority.Create("example.org");
        var forged = stranger.Issue("spiffe://example.org/spire/agent/join_token/forged");
        using var svid = X509Svid.Parse(forged.ChainDer, forged.KeyPkcs8);
        using var certificate = svid.Leaf.CopyWithPrivateKey((System.Security.Cryptography.ECDsa)svid.PrivateKey);
        var (channel, client) = await _server.AgentClientAsync(certificate, [certificate]);
        using var _ = channel;

        var error = await Assert.ThrowsAsync<RpcException>(() => client.SyncEntriesAsync(new SyncEntriesRequest()).ResponseAsync.Within());

        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Contains("does not chain to the trust bundle", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SyncEntries_WorkloadSvidOfThisTrustDomain_PermissionDenied()
    {
        using var agent = await _server.AttestAgentAsync();
        var entry = await _server.CreateEntryAsync(agent.SpiffeId, "spiffe://example.org/web", "-selector", "unix:uid:1");
        var (channel, client) = await _server.AgentClientAsync(agent);
        using var _ = channel;
        var (key, csr) = TestServer.NewCsr();
        using var __ = key;
        var result = (await client.SignX509SvidsAsync(new SignX509SvidsRequest { Params = { new SvidParams { EntryId = entry, Csr = csr } } }).ResponseAsync.Within()).Results.Single();
        using var leaf = X509CertificateLoader.LoadCertificate(result.Svid.CertChain[0].Span);
        using var workloadCertificate = leaf.CopyWithPrivateKey(key);
        var (workloadChannel, workloadClient) = await _server.AgentClientAsync(workloadCertificate, [workloadCertificate]);
        using var ___ = workloadChannel;

        var error = await Assert.ThrowsAsync<RpcException>(() => workloadClient.SyncEntriesAsync(new SyncEntriesRequest()).ResponseAsync.Within());

        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Contains("is not an agent", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignX509Svids_PerAgent_OnlyAuthorizedEntriesAreSigned()
    {
        using var agentA = await _server.AttestAgentAsync();
        using var agentB = await _server.AttestAgentAsync();
        var entryA = await _server.CreateEntryAsync(agentA.SpiffeId, "spiffe://example.org/a", "-selector", "unix:uid:1");
        var entryAChild = await _server.CreateEntryAsync("spiffe://example.org/a", "spiffe://example.org/a/child", "-selector", "unix:uid:11");
        var entryB = await _server.CreateEntryAsync(agentB.SpiffeId, "spiffe://example.org/b", "-selector", "unix:uid:2");
        var (channel, client) = await _server.AgentClientAsync(agentA);
        using var _ = channel;

        var synced = await client.SyncEntriesAsync(new SyncEntriesRequest()).ResponseAsync.Within();
        var (key, csr) = TestServer.NewCsr();
        using (key)
        {
            var signed = await client.SignX509SvidsAsync(new SignX509SvidsRequest
            {
                Params = { new SvidParams { EntryId = entryA, Csr = csr }, new SvidParams { EntryId = entryB, Csr = csr }, new SvidParams { EntryId = "nope", Csr = csr } },
            }).ResponseAsync.Within();

            Assert.Equal(new[] { entryA, entryAChild }.Order(StringComparer.Ordinal), synced.Entries.Select(e => e.Id));
            Assert.Equal(0, signed.Results[0].StatusCode);
            Assert.Equal("spiffe://example.org/a", signed.Results[0].Svid.SpiffeId);
            Assert.Equal((int)StatusCode.PermissionDenied, signed.Results[1].StatusCode);
            Assert.Contains("not authorized for agent", signed.Results[1].StatusMessage, StringComparison.Ordinal);
            Assert.Null(signed.Results[1].Svid);
            Assert.Equal((int)StatusCode.PermissionDenied, signed.Results[2].StatusCode);
            Assert.Contains(_server.Logs.Messages, m => m.Contains($"asked for entry {entryB}, which is not authorized", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task SignX509Svids_CsrSignedByAnotherKey_RefusedAloneTheRestOfTheBatchIssued()
    {
        using var agent = await _server.AttestAgentAsync();
        var entry = await _server.CreateEntryAsync(agent.SpiffeId, "spiffe://example.org/web", "-selector", "unix:uid:1");
        var (channel, client) = await _server.AgentClientAsync(agent);
        using var _ = channel;
        var (key, csr) = TestServer.NewCsr();
        using var __ = key;
        using var victim = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var forged = Server.CsrVerifierTests.SwapPublicKey(csr.ToByteArray(), new CertificateRequest("CN=x", victim, HashAlgorithmName.SHA256).PublicKey);

        var results = (await client.SignX509SvidsAsync(new SignX509SvidsRequest
        {
            Params = { new SvidParams { EntryId = entry, Csr = ByteString.CopyFrom(forged) }, new SvidParams { EntryId = entry, Csr = csr } },
        }).ResponseAsync.Within()).Results;

        Assert.Equal((int)StatusCode.InvalidArgument, results[0].StatusCode);
        Assert.Equal("invalid CSR: the CSR's signature does not verify with its public key", results[0].StatusMessage);
        Assert.Null(results[0].Svid);
        Assert.Equal(0, results[1].StatusCode);
        using var svid = X509Svid.Parse(results[1].Svid.CertChain.SelectMany(b => b.ToByteArray()).ToArray(), key.ExportPkcs8PrivateKey());
        Assert.Equal("spiffe://example.org/web", svid.Id.ToString());
    }

    [Fact]
    public async Task SignX509Svids_DsaAndWeakKeysInABatch_EachRefusedAloneTheRestIssued()
    {
        using var agent = await _server.AttestAgentAsync();
        var entry = await _server.CreateEntryAsync(agent.SpiffeId, "spiffe://example.org/web", "-selector", "unix:uid:1");
        var (channel, client) = await _server.AgentClientAsync(agent);
        using var _ = channel;
        var (key, csr) = TestServer.NewCsr();
        using var __ = key;
        var dsa = await Server.CsrVerifierTests.DsaCsrAsync();

        var results = (await client.SignX509SvidsAsync(new SignX509SvidsRequest
        {
            Params =
            {
                new SvidParams { EntryId = entry, Csr = ByteString.CopyFrom(dsa) },
                new SvidParams { EntryId = entry, Csr = ByteString.CopyFrom(Server.CsrVerifierTests.WeakCsr("RSA-1024")) },
                new SvidParams { EntryId = entry, Csr = ByteString.CopyFrom(Server.CsrVerifierTests.WeakCsr("P-192")) },
                new SvidParams { EntryId = entry, Csr = csr },
            },
        }).ResponseAsync.Within()).Results;

        Assert.All(results.Take(3), r =>
        {
            Assert.Equal((int)StatusCode.InvalidArgument, r.StatusCode);
            Assert.StartsWith("invalid CSR: ", r.StatusMessage, StringComparison.Ordinal);
            Assert.Null(r.Svid);
        });
        Assert.Contains("1024 bits", results[1].StatusMessage, StringComparison.Ordinal);
        Assert.Contains("1.2.840.10045.3.1.1", results[2].StatusMessage, StringComparison.Ordinal);
        Assert.Equal(0, results[3].StatusCode);
        Assert.NotNull(results[3].Svid);
    }

    [Theory]
    [InlineData("RSA-512")]
    [InlineData("RSA-1024")]
    [InlineData("P-192")]
    public async Task AttestAgent_WeakKey_InvalidArgumentAndTheTokenIsNotSpent(string keyType)
    {
        var token = await _server.GenerateTokenAsync();
        var (channel, client) = await _server.AgentClientAsync();
        using var _ = channel;

        var error = await Assert.ThrowsAsync<RpcException>(() => client.AttestAgentAsync(new AttestAgentRequest
        {
            Attestation = new AttestationData { Type = "join_token", Payload = ByteString.CopyFromUtf8(token) },
            Csr = ByteString.CopyFrom(Server.CsrVerifierTests.WeakCsr(keyType)),
        }).ResponseAsync.Within());
        using var agent = await _server.AttestAgentAsync(token);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("invalid CSR: the CSR's ", error.Status.Detail, StringComparison.Ordinal);
        Assert.EndsWith(token, agent.SpiffeId, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignX509Svids_AuthorizedEntry_SvidFollowsTheStandardAndOpensslVerifiesIt()
    {
        using var agent = await _server.AttestAgentAsync();
        var entry = await _server.CreateEntryAsync(agent.SpiffeId, "spiffe://example.org/web", "-selector", "unix:uid:1", "-dns", "web.example.org", "-x509SVIDTTL", "600");
        var (channel, client) = await _server.AgentClientAsync(agent);
        using var _ = channel;
        var (key, csr) = TestServer.NewCsr();
        using var __ = key;
        var before = TimeProvider.System.GetUtcNow();

        var result = (await client.SignX509SvidsAsync(new SignX509SvidsRequest { Params = { new SvidParams { EntryId = entry, Csr = csr } } }).ResponseAsync.Within()).Results.Single();

        Assert.Equal(0, result.StatusCode);
        var chainDer = result.Svid.CertChain.SelectMany(b => b.ToByteArray()).ToArray();
        using var svid = X509Svid.Parse(chainDer, key.ExportPkcs8PrivateKey());
        var bundleShow = await _server.CliAsync("bundle", "show");
        var bundle = X509Bundle.ParsePem(TrustDomain.Parse("example.org"), bundleShow.Stdout);
        svid.Verify(bundle, TimeProvider.System.GetUtcNow());
        Assert.Equal("spiffe://example.org/web", svid.Id.ToString());
        Assert.Single(svid.Certificates); // self-signed CA: the leaf alone, the root lives in the bundle
        var leaf = svid.Leaf;
        Assert.Equal(["spiffe://example.org/web"], leaf.GetUriSans());
        Assert.Equal(16, leaf.SerialNumberBytes.Length);
        Assert.Equal("C=US, O=SPIRE, CN=web.example.org", Server.CredentialBuilderTests.InEncodingOrder(leaf.SubjectName));
        Assert.True(leaf.GetKeyUsage()!.Critical);
        Assert.InRange(svid.NotAfter - svid.NotBefore, TimeSpan.FromSeconds(609), TimeSpan.FromSeconds(611));
        Assert.InRange(svid.NotBefore, before.AddSeconds(-12), before.AddSeconds(-8));

        var dir = TestServer.NewTempDirectory();
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "bundle.pem"), bundleShow.Stdout);
            await File.WriteAllTextAsync(Path.Combine(dir, "svid.pem"), svid.ExportCertificatesPem());
            var (exit, output) = await RunAsync("openssl", "verify", "-CAfile", Path.Combine(dir, "bundle.pem"), "-purpose", "sslclient", Path.Combine(dir, "svid.pem"));
            Assert.True(exit == 0, output);
            Assert.Contains("svid.pem: OK", output, StringComparison.Ordinal);
            var (_, text) = await RunAsync("openssl", "x509", "-in", Path.Combine(dir, "svid.pem"), "-noout", "-subject", "-ext", "keyUsage,extendedKeyUsage,subjectAltName");
            Assert.Contains("subject=C=US, O=SPIRE, CN=web.example.org", text.Replace(" = ", "=", StringComparison.Ordinal), StringComparison.Ordinal);
            Assert.Contains("X509v3 Key Usage: critical", text, StringComparison.Ordinal);
            Assert.Contains("Digital Signature, Key Encipherment, Key Agreement", text, StringComparison.Ordinal);
            Assert.Contains("TLS Web Server Authentication, TLS Web Client Authentication", text, StringComparison.Ordinal);
            Assert.Contains("URI:spiffe://example.org/web", text, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task MintJwtSvid_AuthorizedEntry_ValidatesAgainstTheJwtBundle_OthersRefused()
    {
        using var agent = await _server.AttestAgentAsync();
        using var other = await _server.AttestAgentAsync();
        var entry = await _server.CreateEntryAsync(agent.SpiffeId, "spiffe://example.org/web", "-selector", "unix:uid:1", "-jwtSVIDTTL", "120");
        var foreign = await _server.CreateEntryAsync(other.SpiffeId, "spiffe://example.org/other", "-selector", "unix:uid:1");
        var (channel, client) = await _server.AgentClientAsync(agent);
        using var _ = channel;

        var minted = await client.MintJwtSvidAsync(new MintJwtSvidRequest { EntryId = entry, Audience = { "db", "cache" } }).ResponseAsync.Within();
        var bundleResponse = await client.GetBundleAsync(new GetBundleRequest()).ResponseAsync.Within();
        var refused = await Assert.ThrowsAsync<RpcException>(() => client.MintJwtSvidAsync(new MintJwtSvidRequest { EntryId = foreign, Audience = { "db" } }).ResponseAsync.Within());
        var noAudience = await Assert.ThrowsAsync<RpcException>(() => client.MintJwtSvidAsync(new MintJwtSvidRequest { EntryId = entry }).ResponseAsync.Within());

        var td = TrustDomain.Parse("example.org");
        var jwtBundle = JwtBundle.Parse(td, bundleResponse.Bundle.JwtAuthoritiesJwks.ToByteArray());
        var svid = JwtSvid.Parse(minted.Token, new JwtBundleSet([jwtBundle]), ["cache"]);
        Assert.Equal("spiffe://example.org/web", svid.Id.ToString());
        Assert.Equal("ES256", svid.Algorithm);
        Assert.False(string.IsNullOrEmpty(svid.KeyId));
        Assert.Equal(TimeSpan.FromSeconds(120), svid.Expiry - svid.IssuedAt!.Value);
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, noAudience.StatusCode);
        Assert.Throws<JwtSvidException>(() => JwtSvid.Parse(minted.Token, new JwtBundleSet([jwtBundle]), ["someone-else"]));
    }

    [Fact]
    public async Task AgentEvict_EvictedAgent_RefusedWithPermissionDenied()
    {
        using var agent = await _server.AttestAgentAsync();
        var (channel, client) = await _server.AgentClientAsync(agent);
        using var _ = channel;
        await client.SyncEntriesAsync(new SyncEntriesRequest()).ResponseAsync.Within();

        var listed = await _server.CliAsync("agent", "list");
        var evicted = await _server.CliAsync("agent", "evict", "-spiffeID", agent.SpiffeId);
        var error = await Assert.ThrowsAsync<RpcException>(() => client.SyncEntriesAsync(new SyncEntriesRequest()).ResponseAsync.Within());
        var renew = await Assert.ThrowsAsync<RpcException>(() => client.RenewAgentAsync(new RenewAgentRequest { Csr = TestServer.NewCsr().Csr }).ResponseAsync.Within());

        Assert.Contains(agent.SpiffeId, listed.Stdout, StringComparison.Ordinal);
        Assert.Contains("Attestation type  : join_token", listed.Stdout, StringComparison.Ordinal);
        Assert.Contains($"Serial number     : {new System.Numerics.BigInteger(agent.Certificate.SerialNumberBytes.Span, isUnsigned: true, isBigEndian: true)}", listed.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, evicted.ExitCode);
        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Contains("not attested or has been evicted", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.PermissionDenied, renew.StatusCode);
        Assert.StartsWith("Found 0 attested agents", (await _server.CliAsync("agent", "list")).Stdout, StringComparison.Ordinal);
        Assert.Contains(_server.Logs.Messages, m => m.StartsWith("Warning: Evicted agent", StringComparison.Ordinal));
        Assert.Contains(_server.Logs.Messages, m => m.StartsWith("Warning: Refused agent API caller", StringComparison.Ordinal) && m.Contains("has been evicted", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RenewAgent_NewSvidUsed_PreviousSvidRefused()
    {
        using var agent = await _server.AttestAgentAsync();
        var (oldChannel, oldClient) = await _server.AgentClientAsync(agent);
        using var _ = oldChannel;
        var (key, csr) = TestServer.NewCsr();

        var renewed = await oldClient.RenewAgentAsync(new RenewAgentRequest { Csr = csr }).ResponseAsync.Within();
        using var leaf = X509CertificateLoader.LoadCertificate(renewed.Svid.CertChain[0].Span);
        using var newCertificate = leaf.CopyWithPrivateKey(key);
        var (newChannel, newClient) = await _server.AgentClientAsync(newCertificate, [newCertificate]);
        using var __ = newChannel;
        await newClient.SyncEntriesAsync(new SyncEntriesRequest()).ResponseAsync.Within();
        var (staleChannel, staleClient) = await _server.AgentClientAsync(agent);
        using var ___ = staleChannel;
        var error = await Assert.ThrowsAsync<RpcException>(() => staleClient.SyncEntriesAsync(new SyncEntriesRequest()).ResponseAsync.Within());

        Assert.Equal(agent.SpiffeId, renewed.Svid.SpiffeId);
        Assert.NotEqual(agent.Certificate.SerialNumber, leaf.SerialNumber);
        Assert.Equal(StatusCode.PermissionDenied, error.StatusCode);
        Assert.Contains("not its latest", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetBundle_EntryFederatesWith_ReturnsThatFederatedBundleOnly()
    {
        using var otherCa = TestCertificateAuthority.Create("other.org");
        using var thirdCa = TestCertificateAuthority.Create("third.org");
        var dir = TestServer.NewTempDirectory();
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "other.pem"), otherCa.Bundle.ExportPem());
            await File.WriteAllTextAsync(Path.Combine(dir, "third.pem"), thirdCa.Bundle.ExportPem());
            Assert.Equal(0, (await _server.CliAsync("bundle", "set", "-id", "spiffe://other.org", "-path", Path.Combine(dir, "other.pem"))).ExitCode);
            Assert.Equal(0, (await _server.CliAsync("bundle", "set", "-id", "spiffe://third.org", "-path", Path.Combine(dir, "third.pem"))).ExitCode);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        using var agent = await _server.AttestAgentAsync();
        await _server.CreateEntryAsync(agent.SpiffeId, "spiffe://example.org/web", "-selector", "unix:uid:1", "-federatesWith", "spiffe://other.org");
        var (channel, client) = await _server.AgentClientAsync(agent);
        using var _ = channel;

        var response = await client.GetBundleAsync(new GetBundleRequest()).ResponseAsync.Within();
        var list = await _server.CliAsync("bundle", "list");

        var federated = Assert.Single(response.FederatedBundles);
        Assert.Equal("other.org", federated.TrustDomain);
        Assert.Equal(otherCa.Root.RawData, federated.X509Authorities.Single().ToByteArray());
        Assert.Equal("example.org", response.Bundle.TrustDomain);
        Assert.Contains("* spiffe://other.org", list.Stdout, StringComparison.Ordinal);
        using var json = System.Text.Json.JsonDocument.Parse((await _server.CliAsync("bundle", "list", "-output", "json")).Stdout);
        Assert.Equal(["other.org", "third.org"], json.RootElement.GetProperty("bundles").EnumerateArray().Select(b => b.GetProperty("trustDomain").GetString()));

        var deleted = await _server.CliAsync("bundle", "delete", "-id", "spiffe://other.org");
        var again = await _server.CliAsync("bundle", "delete", "-id", "spiffe://other.org");
        var afterDelete = await client.GetBundleAsync(new GetBundleRequest()).ResponseAsync.Within();
        Assert.Equal(0, deleted.ExitCode);
        Assert.Equal(MiniSpire.Cli.ExitCodes.NotFound, again.ExitCode);
        Assert.Contains("no federated bundle for trust domain \"other.org\"", again.Stderr, StringComparison.Ordinal);
        Assert.Empty(afterDelete.FederatedBundles);
        Assert.Contains("* spiffe://third.org", list.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BundleSet_OwnTrustDomainOrGarbage_RefusedNamingTheProblem()
    {
        var dir = TestServer.NewTempDirectory();
        try
        {
            using var ca = TestCertificateAuthority.Create("example.org");
            await File.WriteAllTextAsync(Path.Combine(dir, "own.pem"), ca.Bundle.ExportPem());
            await File.WriteAllTextAsync(Path.Combine(dir, "garbage.json"), "{\"keys\": [{\"use\": \"x509-svid\", \"x5c\": [\"!!\"]}]}");

            var own = await _server.CliAsync("bundle", "set", "-id", "example.org", "-path", Path.Combine(dir, "own.pem"));
            var garbage = await _server.CliAsync("bundle", "set", "-id", "other.org", "-format", "spiffe", "-path", Path.Combine(dir, "garbage.json"));

            Assert.Equal(1, own.ExitCode);
            Assert.Contains("own trust domain", own.Stderr, StringComparison.Ordinal);
            Assert.Equal(MiniSpire.Cli.ExitCodes.UsageOrConfig, garbage.ExitCode);
            Assert.Contains("-path", garbage.Stderr, StringComparison.Ordinal);
            Assert.Equal(string.Empty, (await _server.CliAsync("bundle", "list")).Stdout);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task BundleShow_SpiffeFormat_RoundTripsThroughBundleSet()
    {
        var shown = await _server.CliAsync("bundle", "show", "-format", "spiffe");
        var dir = TestServer.NewTempDirectory();
        try
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "b.json"), shown.Stdout);
            var set = await _server.CliAsync("bundle", "set", "-id", "spiffe://copy.org", "-format", "spiffe", "-path", Path.Combine(dir, "b.json"));
            var listed = await _server.CliAsync("bundle", "list", "-id", "spiffe://copy.org", "-format", "spiffe");

            Assert.True(set.ExitCode == 0, set.Stderr);
            Assert.Contains("\"use\": \"x509-svid\"", shown.Stdout, StringComparison.Ordinal);
            Assert.Contains("\"use\": \"jwt-svid\"", shown.Stdout, StringComparison.Ordinal);
            Assert.Contains("\"spiffe_sequence\"", shown.Stdout, StringComparison.Ordinal);
            var x5c = System.Text.RegularExpressions.Regex.Match(shown.Stdout, "\"x5c\": \\[\\s*\"([^\"]+)\"").Groups[1].Value;
            Assert.Contains(x5c, listed.Stdout, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task AdminApi_OnTheTlsPort_NotServed()
    {
        var (channel, _) = await _server.AgentClientAsync();
        using var __ = channel;
        var admin = new Admin.AdminClient(channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => admin.ListEntriesAsync(new ListEntriesRequest()).ResponseAsync.Within());

        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }

    private static async Task<(int Exit, string Output)> RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().Within();
        return (process.ExitCode, await stdout.Within() + await stderr.Within());
    }
}
