using Google.Protobuf;
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

    /// <summary>Equal by content, lists included: a sync that brings the same entry back changes nothing.</summary>
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

/// <summary>
/// An X509-SVID the agent holds for an entry: DER chain (leaf first) and PKCS#8 key. The wire forms are made
/// once and shared by every stream's response, instead of a copy per stream (the arrays are never written).
/// </summary>
internal sealed record CachedX509Svid(byte[] ChainDer, byte[] PrivateKeyPkcs8, DateTimeOffset NotBefore, DateTimeOffset NotAfter)
{
    public ByteString ChainBytes { get; } = UnsafeByteOperations.UnsafeWrap(ChainDer);

    public ByteString PrivateKeyBytes { get; } = UnsafeByteOperations.UnsafeWrap(PrivateKeyPkcs8);
}

/// <summary>
/// A trust domain's bundle: X.509 authorities (DER each) and JWT authorities (a JWKS document). Equal by
/// content, so a sync that brings the same bundle back changes nothing; wire forms made once, as above.
/// </summary>
internal sealed record CachedBundle(TrustDomain TrustDomain, IReadOnlyList<byte[]> X509Authorities, byte[] Jwks)
{
    /// <summary>The X.509 authorities concatenated, as the Workload API carries them.</summary>
    public ByteString X509AuthoritiesBytes { get; } = UnsafeByteOperations.UnsafeWrap(X509Authorities.SelectMany(a => a).ToArray());

    public ByteString JwksBytes { get; } = UnsafeByteOperations.UnsafeWrap(Jwks);

    public bool Equals(CachedBundle? other) =>
        other is not null
        && TrustDomain == other.TrustDomain
        && X509AuthoritiesBytes.Equals(other.X509AuthoritiesBytes)
        && JwksBytes.Equals(other.JwksBytes);

    public override int GetHashCode() => HashCode.Combine(TrustDomain, X509AuthoritiesBytes);
}
