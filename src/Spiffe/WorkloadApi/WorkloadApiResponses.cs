using Spiffe.Jwt;
using Spiffe.WorkloadApi.Proto;
using Spiffe.X509;

namespace Spiffe.WorkloadApi;

/// <summary>
/// Turns Workload API messages into domain values, refusing any message with a missing mandatory
/// field or invalid content so that a bad response never reaches a consumer.
/// </summary>
public static class WorkloadApiResponses
{
    /// <summary>Converts an <c>X509SVIDResponse</c>. Later SVIDs whose hint repeats an earlier one are dropped.</summary>
    /// <exception cref="WorkloadApiResponseException">The message is incomplete or invalid.</exception>
    public static X509Context ToX509Context(X509SVIDResponse response) => ToX509Context(response, null);

    /// <summary>
    /// Converts an <c>X509SVIDResponse</c> as <see cref="ToX509Context(X509SVIDResponse)"/> does, taking from
    /// <paramref name="previous"/> every bundle whose certificates are byte for byte the ones received.
    /// </summary>
    /// <remarks>
    /// A watch receives the same bundle with every rotated SVID; parsing a certificate costs about 0.2 ms
    /// through OpenSSL 3 (bench/results/gaps.md, section 3), and an unchanged bundle parses to the same result.
    /// Bundles hold no secret and are never disposed, so one instance may serve several contexts.
    /// </remarks>
    /// <exception cref="WorkloadApiResponseException">The message is incomplete or invalid.</exception>
    public static X509Context ToX509Context(X509SVIDResponse response, X509BundleSet? previous)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.Svids.Count == 0)
        {
            throw new WorkloadApiResponseException("the X509SVIDResponse has no SVIDs");
        }

        var svids = new List<X509Svid>();
        var bundles = new Dictionary<TrustDomain, X509Bundle>();
        var hints = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            for (var i = 0; i < response.Svids.Count; i++)
            {
                var message = response.Svids[i];
                if (!string.IsNullOrEmpty(message.Hint) && !hints.Add(message.Hint))
                {
                    continue;
                }

                var svid = ToX509Svid(message, i);
                svids.Add(svid);
                if (!bundles.ContainsKey(svid.Id.TrustDomain))
                {
                    bundles[svid.Id.TrustDomain] = Reused(previous, svid.Id.TrustDomain, message.Bundle.Span)
                        ?? ParseBundle(svid.Id.TrustDomain, message.Bundle.Span, $"the bundle field of {SvidPosition(i)}");
                }
            }

            foreach (var (key, value) in response.FederatedBundles)
            {
                var trustDomain = ParseTrustDomainKey(key, "federated_bundles");
                if (!bundles.ContainsKey(trustDomain))
                {
                    bundles[trustDomain] = Reused(previous, trustDomain, value.Span) ?? ParseBundle(trustDomain, value.Span, $"federated_bundles[\"{key}\"]");
                }
            }
        }
        catch
        {
            foreach (var svid in svids)
            {
                svid.Dispose();
            }

            throw;
        }

        return new X509Context(svids, new X509BundleSet(bundles.Values));
    }

    /// <summary>Converts an <c>X509BundlesResponse</c>.</summary>
    /// <exception cref="WorkloadApiResponseException">No bundles, a bad trust domain key, or a bundle that does not parse.</exception>
    public static X509BundleSet ToX509BundleSet(X509BundlesResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.Bundles.Count == 0)
        {
            throw new WorkloadApiResponseException("the X509BundlesResponse has no bundles");
        }

        return new X509BundleSet(response.Bundles.Select(pair =>
        {
            var trustDomain = ParseTrustDomainKey(pair.Key, "bundles");
            return ParseBundle(trustDomain, pair.Value.Span, $"bundles[\"{pair.Key}\"]");
        }).ToList());
    }

    /// <summary>Converts a <c>JWTBundlesResponse</c>.</summary>
    /// <exception cref="WorkloadApiResponseException">No bundles, a bad trust domain key, or a JWKS that does not parse.</exception>
    public static JwtBundleSet ToJwtBundleSet(JWTBundlesResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.Bundles.Count == 0)
        {
            throw new WorkloadApiResponseException("the JWTBundlesResponse has no bundles");
        }

        var bundles = new List<JwtBundle>();
        foreach (var (key, value) in response.Bundles)
        {
            var trustDomain = ParseTrustDomainKey(key, "bundles");
            try
            {
                bundles.Add(JwtBundle.Parse(trustDomain, value.Span));
            }
            catch (JwtSvidException e)
            {
                throw new WorkloadApiResponseException($"bundles[\"{key}\"] of the JWTBundlesResponse is invalid: {e.Message}", e);
            }
        }

        return new JwtBundleSet(bundles);
    }

    /// <summary>Converts a <c>JWTSVIDResponse</c>, checking every token's claims (not signatures) against the requested audience.</summary>
    /// <exception cref="WorkloadApiResponseException">No SVIDs, a missing field, or a token that does not parse.</exception>
    public static IReadOnlyList<JwtSvid> ToJwtSvids(JWTSVIDResponse response, IReadOnlyCollection<string> audience, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (response.Svids.Count == 0)
        {
            throw new WorkloadApiResponseException("the JWTSVIDResponse has no SVIDs");
        }

        var svids = new List<JwtSvid>();
        var hints = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < response.Svids.Count; i++)
        {
            var message = response.Svids[i];
            var position = $"JWT-SVID {i + 1} of the JWTSVIDResponse";
            if (!string.IsNullOrEmpty(message.Hint) && !hints.Add(message.Hint))
            {
                continue;
            }

            if (string.IsNullOrEmpty(message.SpiffeId))
            {
                throw new WorkloadApiResponseException($"{position} has no spiffe_id");
            }

            if (string.IsNullOrEmpty(message.Svid))
            {
                throw new WorkloadApiResponseException($"{position} has no svid");
            }

            JwtSvid svid;
            try
            {
                svid = JwtSvid.ParseInsecure(message.Svid, audience, time).WithHint(message.Hint);
            }
            catch (JwtSvidException e)
            {
                throw new WorkloadApiResponseException($"{position} is invalid: {e.Message}", e);
            }

            if (svid.Id.ToString() != message.SpiffeId)
            {
                throw new WorkloadApiResponseException($"{position} says spiffe_id \"{message.SpiffeId}\" but its token's subject is \"{svid.Id}\"");
            }

            svids.Add(svid);
        }

        return svids;
    }

    private static string SvidPosition(int index) => $"SVID {index + 1} of the X509SVIDResponse";

    private static X509Bundle? Reused(X509BundleSet? previous, TrustDomain trustDomain, ReadOnlySpan<byte> der) =>
        previous is not null && previous.TryGetBundle(trustDomain, out var bundle) && bundle.HasDer(der) ? bundle : null;

    private static X509Svid ToX509Svid(X509SVID message, int index)
    {
        var position = SvidPosition(index);
        if (string.IsNullOrEmpty(message.SpiffeId))
        {
            throw new WorkloadApiResponseException($"{position} has no spiffe_id");
        }

        if (message.X509Svid.IsEmpty)
        {
            throw new WorkloadApiResponseException($"{position} has no x509_svid (certificate chain)");
        }

        if (message.X509SvidKey.IsEmpty)
        {
            throw new WorkloadApiResponseException($"{position} has no x509_svid_key (private key)");
        }

        if (message.Bundle.IsEmpty)
        {
            throw new WorkloadApiResponseException($"{position} has no bundle");
        }

        X509Svid svid;
        try
        {
            svid = X509Svid.Parse(message.X509Svid.Span, message.X509SvidKey.Span, message.Hint);
        }
        catch (X509SvidException e)
        {
            throw new WorkloadApiResponseException($"{position} (\"{message.SpiffeId}\") is invalid: {e.Message}", e);
        }

        if (svid.Id.ToString() != message.SpiffeId)
        {
            var id = svid.Id;
            svid.Dispose();
            throw new WorkloadApiResponseException($"{position} says spiffe_id \"{message.SpiffeId}\" but its certificate's URI SAN is \"{id}\"");
        }

        return svid;
    }

    private static X509Bundle ParseBundle(TrustDomain trustDomain, ReadOnlySpan<byte> der, string field)
    {
        try
        {
            return X509Bundle.ParseDer(trustDomain, der);
        }
        catch (X509SvidException e)
        {
            throw new WorkloadApiResponseException($"{field} is invalid: {e.Message}", e);
        }
    }

    private static TrustDomain ParseTrustDomainKey(string key, string field)
    {
        if (!TrustDomain.TryParse(key, out var trustDomain, out var error))
        {
            throw new WorkloadApiResponseException($"{field} key \"{key}\" is not a trust domain: {error}");
        }

        return trustDomain;
    }
}
