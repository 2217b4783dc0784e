using System.Diagnostics.CodeAnalysis;

namespace Spiffe.X509;

/// <summary>X.509 bundles keyed by trust domain: the caller's own and any federated ones.</summary>
public sealed class X509BundleSet
{
    private readonly Dictionary<TrustDomain, X509Bundle> _bundles;

    /// <summary>Creates a set; a later bundle for the same trust domain replaces an earlier one.</summary>
    public X509BundleSet(IEnumerable<X509Bundle> bundles)
    {
        ArgumentNullException.ThrowIfNull(bundles);
        _bundles = [];
        foreach (var bundle in bundles)
        {
            _bundles[bundle.TrustDomain] = bundle;
        }
    }

    /// <summary>An empty set.</summary>
    public static X509BundleSet Empty { get; } = new([]);

    /// <summary>The number of trust domains.</summary>
    public int Count => _bundles.Count;

    /// <summary>The bundles, ordered by trust domain name so output built from them is stable.</summary>
    public IEnumerable<X509Bundle> Bundles => _bundles.Values.OrderBy(b => b.TrustDomain.Name, StringComparer.Ordinal);

    /// <summary>The bundle of <paramref name="trustDomain"/>, if the set has one.</summary>
    public bool TryGetBundle(TrustDomain trustDomain, [MaybeNullWhen(false)] out X509Bundle bundle) =>
        _bundles.TryGetValue(trustDomain, out bundle);

    /// <summary>The bundle of <paramref name="trustDomain"/>.</summary>
    /// <exception cref="X509SvidException">The set has no bundle for it.</exception>
    public X509Bundle GetBundle(TrustDomain trustDomain) =>
        TryGetBundle(trustDomain, out var bundle)
            ? bundle
            : throw new X509SvidException($"no X.509 bundle for trust domain \"{trustDomain}\"");
}
