using System.Security.Cryptography.X509Certificates;
using System.Text;
using Spiffe;
using Spiffe.WorkloadApi;
using Spiffe.X509;
using SpiffeHelper.Config;
using SpiffeHelper.Health;

namespace SpiffeHelper.Delivery;

/// <summary>One file of a set: its name in the folder, its bytes and its mode.</summary>
internal sealed record FileContent(string Name, byte[] Bytes, UnixFileMode Mode, bool IsSecret);

/// <summary>
/// The files of one update, ready to write, and what is known about what they carry: the SVID's identity and
/// validity, and per trust domain whose CAs reach the disk, the earliest and latest CA expiry among them.
/// </summary>
internal sealed record CredentialFileSet(
    SpiffeId Id,
    DateTimeOffset NotBefore,
    DateTimeOffset NotAfter,
    IReadOnlyList<FileContent> Files,
    IReadOnlyDictionary<string, (DateTimeOffset Earliest, DateTimeOffset Latest)> CaExpiries);

/// <summary>
/// An X.509 context that must not be written (no SVID for the hint, a chain that does not verify), or,
/// when <see cref="Retryable"/>, that cannot be written yet (the PKCS#12 password file is unreadable).
/// </summary>
internal sealed class CredentialException(string message, bool retryable = false, string reason = RefusalReasons.UntrustedChain) : Exception(message)
{
    public bool Retryable { get; } = retryable;

    /// <summary>Why the update was refused: one of <see cref="RefusalReasons"/>.</summary>
    public string Reason { get; } = reason;
}

/// <summary>
/// Pure: from an X.509 context and the options, the bytes of every output, exactly as the Go tool
/// writes them. The SVID file holds the leaf then the intermediates (only the leaf when
/// add_intermediates_to_bundle); the key file one PKCS#8 <c>PRIVATE KEY</c> block; the bundle file the
/// SVID's own trust domain's CAs, then the intermediates when they moved there, then (when
/// include_federated_domains) the other trust domains' CAs ordered by name. omit_expired drops
/// certificates already expired at <c>now</c>. The chosen SVID is verified against its bundle first.
/// </summary>
internal static class CredentialFiles
{
    public static CredentialFileSet Build(X509Context context, HelperOptions options, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(options);
        var svid = context.FindSvid(options.Hint)
            ?? throw new CredentialException($"the Workload API sent no SVID with hint \"{options.Hint}\" (hints received: {string.Join(", ", context.Svids.Select(s => $"\"{s.Hint}\""))})", reason: RefusalReasons.NoMatchingSvid);

        if (!context.Bundles.TryGetBundle(svid.Id.TrustDomain, out var ownBundle))
        {
            throw new CredentialException($"the Workload API sent no bundle for trust domain \"{svid.Id.TrustDomain}\" of SVID \"{svid.Id}\"", reason: RefusalReasons.NoBundle);
        }

        try
        {
            svid.Verify(ownBundle, now);
        }
        catch (X509SvidException e)
        {
            var reason = now > svid.NotAfter ? RefusalReasons.Expired : now < svid.NotBefore ? RefusalReasons.NotYetValid : RefusalReasons.UntrustedChain;
            throw new CredentialException($"SVID \"{svid.Id}\" was not written: {e.Message}", reason: reason);
        }

        var x509 = options.X509 ?? throw new InvalidOperationException("no X.509 output is configured");
        var chain = x509.AddIntermediatesToBundle ? [svid.Leaf] : svid.Certificates.ToList();
        var bundle = new List<X509Certificate2>(ownBundle.Authorities);
        if (x509.AddIntermediatesToBundle)
        {
            bundle.AddRange(svid.Intermediates);
        }

        if (x509.IncludeFederatedDomains)
        {
            foreach (var federated in context.Bundles.Bundles.Where(b => !b.TrustDomain.Equals(svid.Id.TrustDomain)))
            {
                bundle.AddRange(federated.Authorities);
            }
        }

        if (options.OmitExpired)
        {
            chain = [chain[0], .. chain.Skip(1).Where(c => !IsExpired(c, now))];
            bundle = [.. bundle.Where(c => !IsExpired(c, now))];
        }

        var files = new List<FileContent>
        {
            new(x509.SvidFileName, Encoding.ASCII.GetBytes(Pem.EncodeCertificates(chain)), options.CertFileMode, false),
            new(x509.KeyFileName, Encoding.ASCII.GetBytes(svid.ExportPrivateKeyPem()), options.KeyFileMode, true),
            new(x509.BundleFileName, Encoding.ASCII.GetBytes(Pem.EncodeCertificates(bundle)), options.CertFileMode, false),
        };

        if (x509.CombinedFileName is { } combined)
        {
            // The SPIFFE Filesystem Delivery layout: the key first, then the whole chain (leaf first).
            var fullChain = options.OmitExpired ? [svid.Leaf, .. svid.Intermediates.Where(c => !IsExpired(c, now))] : svid.Certificates;
            files.Add(new(combined, Encoding.ASCII.GetBytes(svid.ExportPrivateKeyPem() + Pem.EncodeCertificates(fullChain)), options.KeyFileMode, true));
        }

        if (x509.TrustBundlesDirName is { } bundlesDir)
        {
            foreach (var trustDomainBundle in context.Bundles.Bundles)
            {
                var authorities = trustDomainBundle.Authorities.Where(c => !options.OmitExpired || !IsExpired(c, now));
                files.Add(new($"{bundlesDir}/{trustDomainBundle.TrustDomain.Name}.pem", Encoding.ASCII.GetBytes(Pem.EncodeCertificates(authorities)), options.CertFileMode, false));
            }
        }

        if (x509.Pkcs12 is { } pkcs12)
        {
            var password = Pkcs12Stores.ReadPassword(pkcs12);
            if (pkcs12.KeystoreFileName is { } keystore)
            {
                files.Add(new(keystore, Pkcs12Stores.Keystore(svid, chain: svid.Certificates, password), options.KeyFileMode, true));
            }

            if (pkcs12.TruststoreFileName is { } truststore)
            {
                // The same certificates as the bundle file, each named after its trust domain (Java's alias).
                var counts = new Dictionary<string, int>(StringComparer.Ordinal);
                var trusted = bundle.Select(certificate =>
                {
                    var trustDomain = context.Bundles.Bundles.FirstOrDefault(b => b.Authorities.Contains(certificate))?.TrustDomain.Name ?? svid.Id.TrustDomain.Name;
                    counts[trustDomain] = counts.GetValueOrDefault(trustDomain) + 1;
                    return ($"{trustDomain} ca {counts[trustDomain]}", certificate);
                }).ToList();
                files.Add(new(truststore, Pkcs12Stores.Truststore(trusted, password), options.CertFileMode, false));
            }
        }

        // Federated CAs reach the disk when merged into the bundle file or written to the per-domain folder.
        var federatedOnDisk = x509.IncludeFederatedDomains || x509.TrustBundlesDirName is not null;
        var caExpiries = new Dictionary<string, (DateTimeOffset Earliest, DateTimeOffset Latest)>(StringComparer.Ordinal);
        foreach (var trustDomainBundle in context.Bundles.Bundles.Where(b => federatedOnDisk || b.TrustDomain.Equals(svid.Id.TrustDomain)))
        {
            var notAfters = trustDomainBundle.Authorities.Where(c => !options.OmitExpired || !IsExpired(c, now)).Select(NotAfterOf).ToList();
            if (notAfters.Count > 0)
            {
                caExpiries[trustDomainBundle.TrustDomain.Name] = (notAfters.Min(), notAfters.Max());
            }
        }

        return new CredentialFileSet(svid.Id, svid.NotBefore, svid.NotAfter, files, caExpiries);
    }

    private static DateTimeOffset NotAfterOf(X509Certificate2 certificate) => new(certificate.NotAfter.ToUniversalTime());

    private static bool IsExpired(X509Certificate2 certificate, DateTimeOffset now) => NotAfterOf(certificate) < now;
}
