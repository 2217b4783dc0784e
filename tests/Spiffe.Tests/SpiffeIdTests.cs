namespace Spiffe.Tests;

public sealed class SpiffeIdTests
{
    [Theory]
    [InlineData("spiffe://example.org", "example.org", "")]
    [InlineData("spiffe://example.org/workload", "example.org", "/workload")]
    [InlineData("spiffe://a-b_c.1/ns/default/sa/web", "a-b_c.1", "/ns/default/sa/web")]
    [InlineData("spiffe://example.org/Case.Sensitive-_/x", "example.org", "/Case.Sensitive-_/x")]
    [InlineData("spiffe://example.org/.../a..b/.hidden", "example.org", "/.../a..b/.hidden")]
    public void Parse_ValidId_ExposesTrustDomainAndPath(string text, string trustDomain, string path)
    {
        var id = SpiffeId.Parse(text);

        Assert.Equal(trustDomain, id.TrustDomain.Name);
        Assert.Equal(path, id.Path);
        Assert.Equal(text, id.ToString());
        Assert.Equal(path.Length == 0, id.IsTrustDomainId);
    }

    [Theory]
    [InlineData("", "cannot be empty")]
    [InlineData("example.org/workload", "scheme \"spiffe://\"")]
    [InlineData("SPIFFE://example.org/workload", "scheme \"spiffe://\"")]
    [InlineData("https://example.org/workload", "scheme \"spiffe://\"")]
    [InlineData("spiffe:/example.org", "scheme \"spiffe://\"")]
    [InlineData("spiffe://", "trust domain cannot be empty")]
    [InlineData("spiffe:///path", "trust domain cannot be empty")]
    [InlineData("spiffe://Example.org", "must be lower case")]
    [InlineData("spiffe://exa%6Dple.org", "percent-encoded")]
    [InlineData("spiffe://user@example.org", "user information")]
    [InlineData("spiffe://example.org:8080", "port")]
    [InlineData("spiffe://example.org?x=1", "query")]
    [InlineData("spiffe://example.org#frag", "fragment")]
    [InlineData("spiffe://exa mple.org", "U+0020")]
    [InlineData("spiffe://exämple.org", "'ä'")]
    [InlineData("spiffe://example.org/", "cannot end with \"/\"")]
    [InlineData("spiffe://example.org/a/", "cannot end with \"/\"")]
    [InlineData("spiffe://example.org//a", "empty segment")]
    [InlineData("spiffe://example.org/a//b", "empty segment")]
    [InlineData("spiffe://example.org/./a", "\".\" or \"..\"")]
    [InlineData("spiffe://example.org/a/..", "\".\" or \"..\"")]
    [InlineData("spiffe://example.org/a%20b", "path cannot be percent-encoded")]
    [InlineData("spiffe://example.org/a?b", "query")]
    [InlineData("spiffe://example.org/a#b", "fragment")]
    [InlineData("spiffe://example.org/a b", "U+0020")]
    [InlineData("spiffe://example.org/a:b", "':' at index 22")]
    public void Parse_InvalidId_NamesTheBrokenRule(string text, string rule)
    {
        var error = Assert.Throws<SpiffeIdFormatException>(() => SpiffeId.Parse(text));

        Assert.Contains(rule, error.Message, StringComparison.Ordinal);
        Assert.False(SpiffeId.TryParse(text, out _));
    }

    [Fact]
    public void Parse_TrustDomainOf255Bytes_IsAccepted_256IsRejected()
    {
        Assert.Equal(255, SpiffeId.Parse("spiffe://" + new string('a', 255)).TrustDomain.Name.Length);

        var error = Assert.Throws<SpiffeIdFormatException>(() => SpiffeId.Parse("spiffe://" + new string('a', 256)));
        Assert.Contains("255 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_IdOf2048Bytes_IsAccepted_2049IsRejected()
    {
        var prefix = "spiffe://example.org/";
        var atLimit = prefix + new string('p', 2048 - prefix.Length);
        Assert.Equal(2048, SpiffeId.Parse(atLimit).ToString().Length);

        var error = Assert.Throws<SpiffeIdFormatException>(() => SpiffeId.Parse(atLimit + "p"));
        Assert.Contains("2048 bytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Equality_IsOrdinalAndCaseSensitiveInPath()
    {
        Assert.Equal(SpiffeId.Parse("spiffe://example.org/a"), SpiffeId.Parse("spiffe://example.org/a"));
        Assert.NotEqual(SpiffeId.Parse("spiffe://example.org/a"), SpiffeId.Parse("spiffe://example.org/A"));
        Assert.True(SpiffeId.Parse("spiffe://example.org/a") == SpiffeId.Parse("spiffe://example.org/a"));
        Assert.Equal(SpiffeId.Parse("spiffe://example.org/a").GetHashCode(), SpiffeId.Parse("spiffe://example.org/a").GetHashCode());
    }

    [Fact]
    public void FromSegments_ValidatesEverySegment()
    {
        var td = TrustDomain.Parse("example.org");

        Assert.Equal("spiffe://example.org/ns/default", SpiffeId.FromSegments(td, "ns", "default").ToString());
        Assert.Throws<SpiffeIdFormatException>(() => SpiffeId.FromSegments(td, "ns", "a/../b"));
        Assert.Throws<SpiffeIdFormatException>(() => SpiffeId.FromSegments(td, ""));
    }

    [Fact]
    public void ParseGeneric_WorksThroughIParsable()
    {
        Assert.Equal("spiffe://example.org/x", ParseVia<SpiffeId>("spiffe://example.org/x").ToString());
        Assert.Equal("example.org", ParseVia<TrustDomain>("example.org").Name);
    }

    [Theory]
    [InlineData("example.org", "example.org")]
    [InlineData("spiffe://example.org", "example.org")]
    public void TrustDomainParse_AcceptsNameAndIdForm(string text, string name)
    {
        var td = TrustDomain.Parse(text);

        Assert.Equal(name, td.Name);
        Assert.Equal("spiffe://" + name, td.IdString);
        Assert.Equal(td, td.ToSpiffeId().TrustDomain);
    }

    [Theory]
    [InlineData("", "cannot be empty")]
    [InlineData("Example.org", "lower case")]
    [InlineData("spiffe://example.org/path", "cannot have a path")]
    [InlineData("example.org:443", "port")]
    [InlineData("SPIFFE://example.org", "scheme \"spiffe://\"")]
    public void TrustDomainParse_Invalid_NamesTheRule(string text, string rule)
    {
        var error = Assert.Throws<SpiffeIdFormatException>(() => TrustDomain.Parse(text));

        Assert.Contains(rule, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void IsMemberOf_ComparesTrustDomains()
    {
        var id = SpiffeId.Parse("spiffe://example.org/a");

        Assert.True(id.IsMemberOf(TrustDomain.Parse("example.org")));
        Assert.False(id.IsMemberOf(TrustDomain.Parse("other.org")));
    }

    private static T ParseVia<T>(string s)
        where T : IParsable<T> => T.Parse(s, null);
}
