using MiniSpire.Entries;
using Spiffe;

namespace MiniSpire.Agent.Cache;

/// <summary>A registration entry as the agent caches it: what workload attestation and the Workload API need.</summary>
internal sealed record CachedEntry(
    string Id,
    SpiffeId SpiffeId,
    IReadOnlyList<Selector> Selectors,
    IReadOnlyList<TrustDomain> FederatesWith,
    string Hint,
    long RevisionNumber)
{
    /// <summary>Whether every selector of the entry is among <paramref name="workloadSelectors"/> (SPIRE's subset rule).</summary>
    public bool IsMatchedBy(IReadOnlySet<Selector> workloadSelectors) =>
        Selectors.Count > 0 && Selectors.All(workloadSelectors.Contains);

    // By content, lists included: every sync rebuilds the entries, and an unchanged one must compare equal so
    // the cache (and every stream it would wake) stays as it is.
    public bool Equals(CachedEntry? other) =>
        other is not null
        && Id == other.Id
        && SpiffeId == other.SpiffeId
        && Hint == other.Hint
        && RevisionNumber == other.RevisionNumber
        && Selectors.SequenceEqual(other.Selectors)
        && FederatesWith.SequenceEqual(other.FederatesWith);

    public override int GetHashCode() => HashCode.Combine(Id, RevisionNumber);
}

/// <summary>An X509-SVID the agent holds for an entry: DER chain (leaf first) and PKCS#8 key; never written after it is stored.</summary>
internal sealed record CachedX509Svid(byte[] ChainDer, byte[] PrivateKeyPkcs8, DateTimeOffset NotBefore, DateTimeOffset NotAfter);

/// <summary>A trust domain's bundle: X.509 authorities (DER each) and JWT authorities (a JWKS document).</summary>
internal sealed record CachedBundle(TrustDomain TrustDomain, IReadOnlyList<byte[]> X509Authorities, byte[] Jwks)
{
    private byte[]? _x509AuthoritiesDer;

    /// <summary>The authorities' DER, concatenated; built once and shared, so callers must not write to it.</summary>
    public byte[] X509AuthoritiesDer() => _x509AuthoritiesDer ??= [.. X509Authorities.SelectMany(a => a)];

    // By content: a sync that fetches the same bundle again must not count as a change.
    public bool Equals(CachedBundle? other) =>
        other is not null
        && TrustDomain == other.TrustDomain
        && Jwks.AsSpan().SequenceEqual(other.Jwks)
        && X509Authorities.Count == other.X509Authorities.Count
        && X509Authorities.Zip(other.X509Authorities).All(pair => pair.First.AsSpan().SequenceEqual(pair.Second));

    public override int GetHashCode() => HashCode.Combine(TrustDomain, X509Authorities.Count, Jwks.Length);
}
