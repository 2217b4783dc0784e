using System.Diagnostics.CodeAnalysis;

namespace Spiffe.Jwt;

/// <summary>JWT bundles keyed by trust domain.</summary>
public sealed class JwtBundleSet
{
    private readonly Dictionary<TrustDomain, JwtBundle> _bundles;

    /// <summary>Creates a set; a later bundle for the same trust domain replaces an earlier one.</summary>
    public JwtBundleSet(IEnumerable<JwtBundle> bundles)
    {
        ArgumentNullException.ThrowIfNull(bundles);
        _bundles = [];
        foreach (var bundle in bundles)
        {
            _bundles[bundle.TrustDomain] = bundle;
        }
    }

    /// <summary>The number of trust domains.</summary>
    public int Count => _bundles.Count;

    /// <summary>The bundles, ordered by trust domain name.</summary>
    public IEnumerable<JwtBundle> Bundles => _bundles.Values.OrderBy(b => b.TrustDomain.Name, StringComparer.Ordinal);

    /// <summary>The bundle of <paramref name="trustDomain"/>, if present.</summary>
    public bool TryGetBundle(TrustDomain trustDomain, [MaybeNullWhen(false)] out JwtBundle bundle) =>
        _bundles.TryGetValue(trustDomain, out bundle);
}
