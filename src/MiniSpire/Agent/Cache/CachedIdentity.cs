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
}

/// <summary>An X509-SVID the agent holds for an entry: DER chain (leaf first) and PKCS#8 key.</summary>
internal sealed record CachedX509Svid(byte[] ChainDer, byte[] PrivateKeyPkcs8, DateTimeOffset NotBefore, DateTimeOffset NotAfter);

/// <summary>A trust domain's bundle: X.509 authorities (DER each) and JWT authorities (a JWKS document).</summary>
internal sealed record CachedBundle(TrustDomain TrustDomain, IReadOnlyList<byte[]> X509Authorities, byte[] Jwks)
{
    public byte[] X509AuthoritiesDer() => [.. X509Authorities.SelectMany(a => a)];
}
