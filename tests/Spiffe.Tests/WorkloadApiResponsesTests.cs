using Google.Protobuf;
using Spiffe.Testing;
using Spiffe.WorkloadApi;
using Spiffe.WorkloadApi.Proto;

namespace Spiffe.Tests;

public sealed class WorkloadApiResponsesTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org");
    private readonly TestCertificateAuthority _federated = TestCertificateAuthority.Create("partner.org");

    public void Dispose()
    {
        _ca.Dispose();
        _federated.Dispose();
    }

    [Fact]
    public void ToX509Context_KeepsOrderDefaultFirstAndAllBundles()
    {
        var response = _ca.Response(_ca.Issue("/first"), _ca.Issue("/second"));
        response.FederatedBundles.Add("spiffe://partner.org", ByteString.CopyFrom(_federated.Root.RawData));

        using var context = WorkloadApiResponses.ToX509Context(response);

        Assert.Equal(["spiffe://example.org/first", "spiffe://example.org/second"], context.Svids.Select(s => s.Id.ToString()));
        Assert.Equal("spiffe://example.org/first", context.DefaultSvid.Id.ToString());
        Assert.Equal(["example.org", "partner.org"], context.Bundles.Bundles.Select(b => b.TrustDomain.Name));
    }

    [Fact]
    public void ToX509Context_FederatedKeyWithoutScheme_IsAccepted()
    {
        var response = _ca.Response(_ca.Issue("/a"));
        response.FederatedBundles.Add("partner.org", ByteString.CopyFrom(_federated.Root.RawData));

        using var context = WorkloadApiResponses.ToX509Context(response);

        Assert.True(context.Bundles.TryGetBundle(TrustDomain.Parse("partner.org"), out _));
    }

    [Fact]
    public void ToX509Context_DuplicateHints_KeepsTheFirst()
    {
        var response = new X509SVIDResponse();
        response.Svids.Add(_ca.ToProto(_ca.Issue("/a"), "db"));
        response.Svids.Add(_ca.ToProto(_ca.Issue("/b"), "db"));
        response.Svids.Add(_ca.ToProto(_ca.Issue("/c"), "web"));

        using var context = WorkloadApiResponses.ToX509Context(response);

        Assert.Equal(["spiffe://example.org/a", "spiffe://example.org/c"], context.Svids.Select(s => s.Id.ToString()));
        Assert.Equal("spiffe://example.org/c", context.FindSvid("web")!.Id.ToString());
        Assert.Null(context.FindSvid("missing"));
    }

    public static TheoryData<string, string> MissingFields => new()
    {
        { "svids", "has no SVIDs" },
        { "spiffe_id", "SVID 1 of the X509SVIDResponse has no spiffe_id" },
        { "x509_svid", "has no x509_svid" },
        { "x509_svid_key", "has no x509_svid_key" },
        { "bundle", "has no bundle" },
    };

    [Theory]
    [MemberData(nameof(MissingFields))]
    public void ToX509Context_MissingMandatoryField_IsRejected(string field, string reason)
    {
        var response = _ca.Response(_ca.Issue("/a"));
        switch (field)
        {
            case "svids": response.Svids.Clear(); break;
            case "spiffe_id": response.Svids[0].SpiffeId = ""; break;
            case "x509_svid": response.Svids[0].X509Svid = ByteString.Empty; break;
            case "x509_svid_key": response.Svids[0].X509SvidKey = ByteString.Empty; break;
            case "bundle": response.Svids[0].Bundle = ByteString.Empty; break;
        }

        var error = Assert.Throws<WorkloadApiResponseException>(() => WorkloadApiResponses.ToX509Context(response));

        Assert.Contains(reason, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToX509Context_SpiffeIdFieldDisagreesWithCertificate_IsRejected()
    {
        var response = _ca.Response(_ca.Issue("/a"));
        response.Svids[0].SpiffeId = "spiffe://example.org/b";

        var error = Assert.Throws<WorkloadApiResponseException>(() => WorkloadApiResponses.ToX509Context(response));

        Assert.Contains("certificate's URI SAN is \"spiffe://example.org/a\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToX509Context_WithPrevious_ReusesOnlyBundlesWhoseBytesAreUnchanged()
    {
        var first = _ca.Response(_ca.Issue("/a"));
        first.FederatedBundles.Add("partner.org", ByteString.CopyFrom(_federated.Root.RawData));
        using var previous = WorkloadApiResponses.ToX509Context(first);
        using var otherCa = TestCertificateAuthority.Create("partner.org");
        var rotated = _ca.Response(_ca.Issue("/a"));
        rotated.FederatedBundles.Add("partner.org", ByteString.CopyFrom([.. _federated.Root.RawData, .. otherCa.Root.RawData]));

        using var context = WorkloadApiResponses.ToX509Context(rotated, previous.Bundles);

        Assert.Same(previous.Bundles.GetBundle(_ca.TrustDomain), context.Bundles.GetBundle(_ca.TrustDomain));
        var partner = context.Bundles.GetBundle(TrustDomain.Parse("partner.org"));
        Assert.NotSame(previous.Bundles.GetBundle(TrustDomain.Parse("partner.org")), partner);
        Assert.Equal([_federated.Root.Thumbprint, otherCa.Root.Thumbprint], partner.Authorities.Select(a => a.Thumbprint));
        Assert.NotEqual(previous.DefaultSvid.Leaf.SerialNumber, context.DefaultSvid.Leaf.SerialNumber);
    }

    [Fact]
    public void ToX509Context_WithPrevious_StillRejectsABadBundle()
    {
        using var previous = WorkloadApiResponses.ToX509Context(_ca.Response(_ca.Issue("/a")));
        var response = _ca.Response(_ca.Issue("/a"));
        response.Svids[0].Bundle = ByteString.CopyFrom([.. _ca.Root.RawData, 0x30]);

        var error = Assert.Throws<WorkloadApiResponseException>(() => WorkloadApiResponses.ToX509Context(response, previous.Bundles));

        Assert.Contains("the bundle field of SVID 1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToX509Context_BadFederatedKey_IsRejected()
    {
        var response = _ca.Response(_ca.Issue("/a"));
        response.FederatedBundles.Add("Not A Domain", ByteString.CopyFrom(_federated.Root.RawData));

        var error = Assert.Throws<WorkloadApiResponseException>(() => WorkloadApiResponses.ToX509Context(response));

        Assert.Contains("federated_bundles key \"Not A Domain\"", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToX509BundleSet_AndJwtBundleSet_RejectEmptyMaps()
    {
        Assert.Throws<WorkloadApiResponseException>(() => WorkloadApiResponses.ToX509BundleSet(new X509BundlesResponse()));
        Assert.Throws<WorkloadApiResponseException>(() => WorkloadApiResponses.ToJwtBundleSet(new JWTBundlesResponse()));
    }

    [Fact]
    public void ToJwtBundleSet_BadJwks_NamesTheKey()
    {
        var response = new JWTBundlesResponse();
        response.Bundles.Add("spiffe://example.org", ByteString.CopyFromUtf8("{}"));

        var error = Assert.Throws<WorkloadApiResponseException>(() => WorkloadApiResponses.ToJwtBundleSet(response));

        Assert.Contains("bundles[\"spiffe://example.org\"]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToJwtSvids_ChecksFieldsAndClaims()
    {
        using var authority = new TestJwtAuthority();
        var good = new JWTSVIDResponse();
        good.Svids.Add(new JWTSVID { SpiffeId = "spiffe://example.org/a", Svid = authority.Mint("spiffe://example.org/a", ["api"]), Hint = "h" });
        var mismatch = new JWTSVIDResponse();
        mismatch.Svids.Add(new JWTSVID { SpiffeId = "spiffe://example.org/b", Svid = authority.Mint("spiffe://example.org/a", ["api"]) });

        var svids = WorkloadApiResponses.ToJwtSvids(good, ["api"], TimeProvider.System);

        Assert.Equal("h", Assert.Single(svids).Hint);
        Assert.Contains("has no SVIDs", Assert.Throws<WorkloadApiResponseException>(() => WorkloadApiResponses.ToJwtSvids(new JWTSVIDResponse(), ["api"], TimeProvider.System)).Message, StringComparison.Ordinal);
        Assert.Contains("token's subject", Assert.Throws<WorkloadApiResponseException>(() => WorkloadApiResponses.ToJwtSvids(mismatch, ["api"], TimeProvider.System)).Message, StringComparison.Ordinal);
        Assert.Contains("audience", Assert.Throws<WorkloadApiResponseException>(() => WorkloadApiResponses.ToJwtSvids(good, ["other"], TimeProvider.System)).Message, StringComparison.Ordinal);
    }
}
