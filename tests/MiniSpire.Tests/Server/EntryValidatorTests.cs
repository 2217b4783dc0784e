using MiniSpire.Entries;
using MiniSpire.Server.Entries;
using Spiffe;

namespace MiniSpire.Tests.Server;

public sealed class EntryValidatorTests
{
    private static readonly TrustDomain Td = TrustDomain.Parse("example.org");

    private static RegistrationEntry Valid() => new()
    {
        Id = "id",
        SpiffeId = "spiffe://example.org/web",
        ParentId = "spiffe://example.org/host",
        Selectors = [new Selector("unix", "uid:1000")],
        DnsNames = ["web.example.org", "*.web.example.org"],
        FederatesWith = ["other.org"],
        Hint = "internal",
    };

    [Fact]
    public void Validate_ValidEntry_NoErrors()
    {
        Assert.Empty(EntryValidator.Validate(Valid(), Td));
    }

    [Fact]
    public void Validate_EveryFieldWrong_NamesEveryField()
    {
        var entry = Valid() with
        {
            SpiffeId = "spiffe://other.org/web",
            ParentId = "not-an-id",
            Selectors = [new Selector("unix", "")],
            X509SvidTtl = -1,
            JwtSvidTtl = -2,
            DnsNames = ["bad_name!"],
            FederatesWith = ["example.org"],
            Hint = new string('h', 1025),
        };

        var errors = EntryValidator.Validate(entry, Td);

        foreach (var field in new[] { "spiffe_id", "parent_id", "selectors", "x509_svid_ttl", "jwt_svid_ttl", "dns_names", "federates_with", "hint" })
        {
            Assert.Contains(errors, e => e.StartsWith(field + ":", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("spiffe://example.org", "has no path")]
    [InlineData("spiffe://example.org/spire/agent/x", "reserved")]
    [InlineData("spiffe://example.org/a//b", "is not a SPIFFE ID")]
    public void Validate_BadSpiffeId_Explains(string spiffeId, string expected)
    {
        var errors = EntryValidator.Validate(Valid() with { SpiffeId = spiffeId }, Td);

        Assert.Contains(errors, e => e.StartsWith("spiffe_id:", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_NoSelectors_Refused()
    {
        var errors = EntryValidator.Validate(Valid() with { Selectors = [] }, Td);

        Assert.Contains("selectors: at least one selector is required", errors);
    }
}
