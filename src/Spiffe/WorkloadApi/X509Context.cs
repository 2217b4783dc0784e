using Spiffe.X509;

namespace Spiffe.WorkloadApi;

/// <summary>
/// One complete snapshot of the caller's X.509 identities: its SVIDs (the first is the default) and the
/// bundles it trusts. Holds private keys: dispose it when replaced.
/// </summary>
public sealed class X509Context : IDisposable
{
    /// <summary>Creates a context; <paramref name="svids"/> must not be empty.</summary>
    public X509Context(IReadOnlyList<X509Svid> svids, X509BundleSet bundles)
    {
        ArgumentNullException.ThrowIfNull(svids);
        ArgumentNullException.ThrowIfNull(bundles);
        if (svids.Count == 0)
        {
            throw new ArgumentException("an X.509 context needs at least one SVID", nameof(svids));
        }

        Svids = svids;
        Bundles = bundles;
    }

    /// <summary>The SVIDs, default first, in the order the Workload API sent them.</summary>
    public IReadOnlyList<X509Svid> Svids { get; }

    /// <summary>The X.509 bundles: the SVIDs' own trust domains and the federated ones.</summary>
    public X509BundleSet Bundles { get; }

    /// <summary>The default identity: the first SVID.</summary>
    public X509Svid DefaultSvid => Svids[0];

    /// <summary>The SVID with <paramref name="hint"/>, or null; an empty hint means the default SVID.</summary>
    public X509Svid? FindSvid(string? hint) =>
        string.IsNullOrEmpty(hint) ? DefaultSvid : Svids.FirstOrDefault(s => string.Equals(s.Hint, hint, StringComparison.Ordinal));

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var svid in Svids)
        {
            svid.Dispose();
        }
    }
}
