using System.Text;
using Google.Protobuf;
using Microsoft.Extensions.Time.Testing;
using Spiffe.Testing;
using Spiffe.WorkloadApi;
using Spiffe.WorkloadApi.Proto;
using Spiffe.X509;
using SpiffeHelper.Config;
using SpiffeHelper.Delivery;

namespace SpiffeHelper.Tests.Delivery;

public sealed class CredentialFilesTests : IDisposable
{
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org", withIntermediate: true);
    private readonly TestCertificateAuthority _federated = TestCertificateAuthority.Create("other.org");

    internal static HelperOptions Options(bool addIntermediates = false, bool includeFederated = false, bool omitExpired = false, string hint = "") => new()
    {
        ConfigFile = "helper.conf",
        AgentAddress = WorkloadApiAddress.Parse("/tmp/agent.sock"),
        CertDir = "/tmp/certs",
        X509 = new X509OutputOptions("svid.pem", "svid_key.pem", "bundle.pem", addIntermediates, includeFederated),
        OmitExpired = omitExpired,
        Hint = hint,
    };

    public void Dispose()
    {
        _ca.Dispose();
        _federated.Dispose();
    }

    private static string Text(CredentialFileSet set, int index) => Encoding.ASCII.GetString(set.Files[index].Bytes);

    private static List<string> Thumbprints(string pem) => Pem.DecodeCertificates(pem).Select(c => c.Thumbprint).ToList();

    private X509Context Context(TestSvid svid, X509SVIDResponse? response = null)
    {
        response ??= _ca.Response(svid);
        response.FederatedBundles.Add("other.org", ByteString.CopyFrom(_federated.Root.RawData));
        return WorkloadApiResponses.ToX509Context(response);
    }

    [Fact]
    public void Build_Defaults_WritesLeafThenIntermediatesPkcs8KeyAndOwnBundle()
    {
        var svid = _ca.Issue("/web");
        using var context = Context(svid);

        var set = CredentialFiles.Build(context, Options(), DateTimeOffset.UtcNow);

        Assert.Equal(["svid.pem", "svid_key.pem", "bundle.pem"], set.Files.Select(f => f.Name));
        Assert.Equal([svid.Leaf.Thumbprint, _ca.Intermediate!.Thumbprint], Thumbprints(Text(set, 0)));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----\n", Text(set, 1));
        Assert.Equal(svid.KeyPem, Text(set, 1));
        Assert.Equal([_ca.Root.Thumbprint], Thumbprints(Text(set, 2)));
        Assert.Equal("0600", ConfigValues.FormatMode(set.Files[1].Mode));
        Assert.True(set.Files[1].IsSecret);
        Assert.Equal("0644", ConfigValues.FormatMode(set.Files[0].Mode));
        Assert.Equal("spiffe://example.org/web", set.Id.ToString());
    }

    [Fact]
    public void Build_AddIntermediatesToBundle_MovesThemFromTheSvidFileToTheBundle()
    {
        var svid = _ca.Issue("/web");
        using var context = Context(svid);

        var set = CredentialFiles.Build(context, Options(addIntermediates: true), DateTimeOffset.UtcNow);

        Assert.Equal([svid.Leaf.Thumbprint], Thumbprints(Text(set, 0)));
        Assert.Equal([_ca.Root.Thumbprint, _ca.Intermediate!.Thumbprint], Thumbprints(Text(set, 2)));
    }

    [Fact]
    public void Build_IncludeFederatedDomains_AppendsTheirAuthorities()
    {
        var svid = _ca.Issue("/web");
        using var context = Context(svid);

        var without = CredentialFiles.Build(context, Options(), DateTimeOffset.UtcNow);
        var with = CredentialFiles.Build(context, Options(includeFederated: true), DateTimeOffset.UtcNow);

        Assert.Equal([_ca.Root.Thumbprint], Thumbprints(Text(without, 2)));
        Assert.Equal([_ca.Root.Thumbprint, _federated.Root.Thumbprint], Thumbprints(Text(with, 2)));
    }

    [Fact]
    public void Build_OmitExpired_DropsExpiredAuthorities()
    {
        var past = new FakeTimeProvider(DateTimeOffset.UtcNow.AddDays(-3));
        using var expired = TestCertificateAuthority.Create("old.org", time: past, caTtl: TimeSpan.FromDays(1));
        var svid = _ca.Issue("/web");
        var response = _ca.Response(svid);
        response.FederatedBundles.Add("old.org", ByteString.CopyFrom(expired.Root.RawData));
        using var context = Context(svid, response);

        var kept = CredentialFiles.Build(context, Options(includeFederated: true), DateTimeOffset.UtcNow);
        var omitted = CredentialFiles.Build(context, Options(includeFederated: true, omitExpired: true), DateTimeOffset.UtcNow);

        Assert.Contains(expired.Root.Thumbprint, Thumbprints(Text(kept, 2)));
        Assert.DoesNotContain(expired.Root.Thumbprint, Thumbprints(Text(omitted, 2)));
        Assert.Contains(_federated.Root.Thumbprint, Thumbprints(Text(omitted, 2)));
    }

    [Fact]
    public void Build_Hint_PicksThatSvid()
    {
        var first = _ca.Issue("/first");
        var second = _ca.Issue("/second");
        var response = new X509SVIDResponse();
        response.Svids.Add(_ca.ToProto(first, "a"));
        response.Svids.Add(_ca.ToProto(second, "b"));
        using var context = Context(first, response);

        var set = CredentialFiles.Build(context, Options(hint: "b"), DateTimeOffset.UtcNow);

        Assert.Equal("spiffe://example.org/second", set.Id.ToString());
        Assert.Equal(second.KeyPem, Text(set, 1));
    }

    [Fact]
    public void Build_UnknownHint_RefusesNamingTheHints()
    {
        var svid = _ca.Issue("/web");
        using var context = Context(svid);

        var error = Assert.Throws<CredentialException>(() => CredentialFiles.Build(context, Options(hint: "db"), DateTimeOffset.UtcNow));

        Assert.Contains("no SVID with hint \"db\"", error.Message);
    }

    [Fact]
    public void Build_ChainNotSignedByTheBundle_Refuses()
    {
        using var impostor = TestCertificateAuthority.Create("example.org");
        var svid = impostor.Issue("/web");
        var message = impostor.ToProto(svid);
        message.Bundle = ByteString.CopyFrom(_ca.Root.RawData);
        var response = new X509SVIDResponse();
        response.Svids.Add(message);
        using var context = WorkloadApiResponses.ToX509Context(response);

        var error = Assert.Throws<CredentialException>(() => CredentialFiles.Build(context, Options(), DateTimeOffset.UtcNow));

        Assert.Contains("was not written", error.Message);
        Assert.Contains("does not verify", error.Message);
    }
}
