using System.Security.Cryptography.X509Certificates;
using MiniSpire.Proto;
using MiniSpire.Tests.Support;
using Spiffe.X509;
using X509Svid = Spiffe.X509.X509Svid;

namespace MiniSpire.Tests.Integration;

public sealed class CaRotationTests
{
    /// <summary>
    /// With ca_ttl = 24 s (34 s of life with the 10 s backdating) the server prepares the next CA after ~7 s and
    /// activates it after ~18 s. Every 300 ms the test reads the bundle and has an SVID signed: the new CA must
    /// be in the bundle before any SVID signed by it appears, and the old CA must still be there when it does.
    /// </summary>
    [Fact]
    public async Task ShortCaTtl_BundleGainsNextCaBeforeSvidsFromItAppear()
    {
        await using var server = await TestServer.StartAsync(o => o with { CaTtl = TimeSpan.FromSeconds(24) });
        using var agent = await server.AttestAgentAsync();
        var entry = await server.CreateEntryAsync(agent.SpiffeId, "spiffe://example.org/web", "-selector", "unix:uid:1");
        var (channel, client) = await server.AgentClientAsync(agent);
        using var _ = channel;
        var (key, csr) = TestServer.NewCsr();
        using var __ = key;

        var observations = new List<(HashSet<string> Bundle, string Issuer)>();
        var deadline = TimeProvider.System.GetUtcNow().AddSeconds(30);
        while (TimeProvider.System.GetUtcNow() < deadline)
        {
            var bundle = await server.BundleAsync();
            var result = (await client.SignX509SvidsAsync(new SignX509SvidsRequest { Params = { new SvidParams { EntryId = entry, Csr = csr } } }).ResponseAsync.Within()).Results.Single();
            Assert.Equal(0, result.StatusCode);
            using var svid = X509Svid.Parse(result.Svid.CertChain.SelectMany(b => b.ToByteArray()).ToArray(), key.ExportPkcs8PrivateKey());
            svid.Verify(bundle, TimeProvider.System.GetUtcNow());
            observations.Add((bundle.Authorities.Select(Ski).ToHashSet(), AuthorityKeyId(svid.Leaf)));
            if (observations.Select(o => o.Issuer).Distinct().Count() == 2)
            {
                break;
            }

            await Task.Delay(300);
        }

        var firstIssuer = observations[0].Issuer;
        var switchAt = observations.FindIndex(o => o.Issuer != firstIssuer);
        Assert.True(switchAt > 0, "no SVID from a second CA appeared within 30 s");
        var secondIssuer = observations[switchAt].Issuer;
        var publishedAt = observations.FindIndex(o => o.Bundle.Contains(secondIssuer));
        Assert.InRange(publishedAt, 0, switchAt - 1); // published in an earlier observation than the first SVID it signed
        Assert.Contains(firstIssuer, observations[publishedAt].Bundle);
        Assert.Contains(firstIssuer, observations[switchAt].Bundle); // the old CA stays until it expires
    }

    private static string Ski(X509Certificate2 certificate) =>
        Convert.ToHexString(certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().Single().SubjectKeyIdentifierBytes.Span);

    private static string AuthorityKeyId(X509Certificate2 certificate) =>
        Convert.ToHexString(certificate.Extensions.OfType<X509AuthorityKeyIdentifierExtension>().Single().KeyIdentifier!.Value.Span);
}
