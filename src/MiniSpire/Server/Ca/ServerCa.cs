using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using MiniSpire.Config;
using MiniSpire.Server.Datastore;
using MiniSpire.Telemetry;
using Spiffe;
using Spiffe.Jwt;
using Spiffe.X509;

namespace MiniSpire.Server.Ca;

/// <summary>Everything the server signs with and publishes, at one moment. Immutable.</summary>
internal sealed record AuthoritySnapshot(
    IReadOnlyList<X509CaAuthority> X509Authorities,
    IReadOnlyList<JwtKeyAuthority> JwtKeys,
    IReadOnlyList<X509Certificate2> UpstreamRoots,
    long SequenceNumber)
{
    public bool SelfSigned => UpstreamRoots.Count == 0;

    public X509CaAuthority ActiveX509 => X509Authorities.First(a => a.State == AuthorityState.Active);

    public JwtKeyAuthority ActiveJwt => JwtKeys.First(k => k.State == AuthorityState.Active);

    /// <summary>The X.509 roots of the trust bundle: every unexpired CA (prepared, active, old), or the upstream roots.</summary>
    public IReadOnlyList<X509Certificate2> BundleX509(DateTimeOffset now) => SelfSigned
        ? X509Authorities.Where(a => !a.Validity.IsExpiredAt(now)).Select(a => a.Certificate).ToList()
        : UpstreamRoots;

    /// <summary>The JWT authorities of the trust bundle: every unexpired JWT key.</summary>
    public IReadOnlyList<JwtAuthority> BundleJwt(DateTimeOffset now) =>
        JwtKeys.Where(k => !k.Validity.IsExpiredAt(now)).Select(k => JwtAuthority.FromKey(k.KeyId, k.Key)).ToList();

    /// <summary>Every CA certificate the server knows below the roots, for building client chains.</summary>
    public IEnumerable<X509Certificate2> Intermediates => SelfSigned
        ? []
        : X509Authorities.SelectMany(a => a.UpstreamIntermediates.Prepend(a.Certificate));
}

/// <summary>
/// The server's certificate authority: keeps the X.509 CA and the JWT key, rotates both as SPIRE does
/// (<see cref="CaRotationTiming"/>), persists every change before using it, and signs SVIDs.
/// </summary>
internal sealed partial class ServerCa : IDisposable
{
    private readonly ServerOptions _options;
    private readonly SqliteDataStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<ServerCa> _logger;
    private readonly ServerMetrics? _metrics;
    private readonly SemaphoreSlim _rotationLock = new(1, 1);
    private readonly Lock _jwtSigningLock = new();
    private X509Certificate2? _upstreamCertificate;
    private ECDsa? _upstreamKey;
    private IReadOnlyList<X509Certificate2> _upstreamRoots = [];
    private IReadOnlyList<X509Certificate2> _upstreamIntermediates = [];
    private volatile AuthoritySnapshot? _snapshot;

    public ServerCa(ServerOptions options, SqliteDataStore store, TimeProvider time, ILogger<ServerCa> logger, ServerMetrics? metrics = null)
    {
        _metrics = metrics;
        _options = options;
        _store = store;
        _time = time;
        _logger = logger;
    }

    public void Dispose() => _rotationLock.Dispose();

    public AuthoritySnapshot Snapshot => _snapshot ?? throw new InvalidOperationException("the CA is not initialized");

    /// <summary>Loads the upstream authority (if any) and the stored authorities, then rotates as needed.</summary>
    public async Task InitializeAsync(CancellationToken ct)
    {
        if (_options.UpstreamAuthority is { } upstream)
        {
            LoadUpstream(upstream);
        }

        await RotateAsync(ct);
    }

    /// <summary>One rotation pass: create, prepare, activate and prune as the timing says. Idempotent.</summary>
    public async Task RotateAsync(CancellationToken ct)
    {
        await _rotationLock.WaitAsync(ct);
        try
        {
            var records = await _store.ListAuthoritiesAsync(ct);
            var now = _time.GetUtcNow();
            var inserts = new List<AuthorityRecord>();
            var changes = new List<(string Id, string State)>();
            var deletions = new List<string>();

            foreach (var kind in new[] { AuthorityKind.X509, AuthorityKind.Jwt })
            {
                var mine = records.Where(r => r.Kind == kind).ToDictionary(r => r.Id, r => r.State);
                var windows = records.Where(r => r.Kind == kind).ToDictionary(r => r.Id, ToValidity);
                for (var i = 0; i < 4; i++)
                {
                    var active = mine.FirstOrDefault(p => p.Value == nameof(AuthorityState.Active)).Key;
                    var prepared = mine.FirstOrDefault(p => p.Value == nameof(AuthorityState.Prepared)).Key;
                    var step = CaRotationTiming.NextStep(now, active is null ? null : windows[active], prepared is null ? null : windows[prepared]);
                    if (step == RotationStep.None)
                    {
                        break;
                    }

                    switch (step)
                    {
                        case RotationStep.CreateActive:
                        case RotationStep.Prepare:
                            var state = step == RotationStep.CreateActive ? AuthorityState.Active : AuthorityState.Prepared;
                            var record = kind == AuthorityKind.X509 ? NewX509Record(now, state) : NewJwtRecord(now, state);
                            inserts.Add(record);
                            windows[record.Id] = ToValidity(record);
                            if (step == RotationStep.CreateActive && active is not null)
                            {
                                mine[active] = nameof(AuthorityState.Old);
                                changes.Add((active, nameof(AuthorityState.Old)));
                            }

                            mine[record.Id] = record.State;
                            var notAfter = windows[record.Id].NotAfter;
                            LogAuthorityCreated(kind, record.Id, state, notAfter);
                            break;
                        case RotationStep.Activate:
                            if (active is not null)
                            {
                                mine[active] = nameof(AuthorityState.Old);
                                changes.Add((active, nameof(AuthorityState.Old)));
                            }

                            mine[prepared!] = nameof(AuthorityState.Active);
                            changes.Add((prepared!, nameof(AuthorityState.Active)));
                            LogAuthorityActivated(kind, prepared!);
                            break;
                    }
                }

                foreach (var (id, state) in mine)
                {
                    if (state != nameof(AuthorityState.Active) && windows[id].IsExpiredAt(now))
                    {
                        deletions.Add(id);
                        inserts.RemoveAll(r => r.Id == id);
                        LogAuthorityPruned(kind, id);
                    }
                }
            }

            if (inserts.Count > 0 || changes.Count > 0 || deletions.Count > 0)
            {
                await _store.ApplyAuthorityChangesAsync(inserts, changes, deletions, ct);
            }

            if (_snapshot is null || inserts.Count > 0 || changes.Count > 0 || deletions.Count > 0)
            {
                _snapshot = await LoadSnapshotAsync(ct);
            }
        }
        finally
        {
            _rotationLock.Release();
        }
    }

    /// <summary>Signs an X509-SVID for <paramref name="subjectKey"/> with the active CA; returns the leaf and the chain above it.</summary>
    public IssuedX509Svid SignX509Svid(PublicKey subjectKey, SpiffeId id, IReadOnlyList<string> dnsNames, TimeSpan ttl)
    {
        var snapshot = Snapshot;
        var ca = snapshot.ActiveX509;
        var leaf = CredentialBuilder.CreateX509Svid(ca, subjectKey, id, dnsNames, _time.GetUtcNow(), ttl);
        _metrics?.X509SvidSigned();
        return leaf with { Intermediates = ca.ChainAboveLeaf(snapshot.SelfSigned) };
    }

    /// <summary>Mints a JWT-SVID with the active JWT key; expiry capped at the key's own expiry.</summary>
    public (string Token, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt) MintJwtSvid(SpiffeId id, IReadOnlyList<string> audience, TimeSpan ttl)
    {
        var key = Snapshot.ActiveJwt;
        var now = _time.GetUtcNow();
        var expiresAt = now + ttl;
        if (expiresAt > key.NotAfter)
        {
            expiresAt = key.NotAfter;
        }

        string token;
        lock (_jwtSigningLock)
        {
            // One signing at a time: an ECDsa instance is not documented as safe for concurrent use.
            token = CredentialBuilder.CreateJwtSvid(key, id, audience, now, expiresAt, _options.JwtIssuer);
        }

        _metrics?.JwtSvidSigned();
        return (token, now, expiresAt);
    }

    private AuthorityRecord NewX509Record(DateTimeOffset now, AuthorityState state)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = CredentialBuilder.CreateCaCertificate(_options.TrustDomain, key, now, _options.CaTtl, _upstreamCertificate, _upstreamKey);
        return new AuthorityRecord(
            Convert.ToHexStringLower(CredentialBuilder.NewSerialNumber()),
            AuthorityKind.X509,
            state.ToString(),
            key.ExportPkcs8PrivateKey(),
            certificate.RawData,
            new DateTimeOffset(certificate.NotBefore.ToUniversalTime()).ToUnixTimeSeconds(),
            new DateTimeOffset(certificate.NotAfter.ToUniversalTime()).ToUnixTimeSeconds());
    }

    private AuthorityRecord NewJwtRecord(DateTimeOffset now, AuthorityState state)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var notAfter = now + _options.CaTtl;
        if (_upstreamCertificate is not null && notAfter > _upstreamCertificate.NotAfter.ToUniversalTime())
        {
            notAfter = _upstreamCertificate.NotAfter.ToUniversalTime();
        }

        return new AuthorityRecord(
            CredentialBuilder.NewKeyId(),
            AuthorityKind.Jwt,
            state.ToString(),
            key.ExportPkcs8PrivateKey(),
            null,
            now.ToUnixTimeSeconds(),
            notAfter.ToUnixTimeSeconds());
    }

    private async Task<AuthoritySnapshot> LoadSnapshotAsync(CancellationToken ct)
    {
        var records = await _store.ListAuthoritiesAsync(ct);
        var sequence = await _store.GetBundleSequenceAsync(ct);
        var x509 = new List<X509CaAuthority>();
        var jwt = new List<JwtKeyAuthority>();
        foreach (var record in records)
        {
            var key = ECDsa.Create();
            key.ImportPkcs8PrivateKey(record.KeyPkcs8, out _);
            var state = Enum.Parse<AuthorityState>(record.State);
            if (record.Kind == AuthorityKind.X509)
            {
                var certificate = X509CertificateLoader.LoadCertificate(record.CertificateDer!);
                x509.Add(new X509CaAuthority(record.Id, state, certificate, key, _upstreamIntermediates));
            }
            else
            {
                jwt.Add(new JwtKeyAuthority(
                    record.Id, state, key, DateTimeOffset.FromUnixTimeSeconds(record.NotBefore), DateTimeOffset.FromUnixTimeSeconds(record.NotAfter)));
            }
        }

        return new AuthoritySnapshot(x509, jwt, _upstreamRoots, sequence);
    }

    private void LoadUpstream(UpstreamAuthorityOptions upstream)
    {
        var errors = new List<string>();
        IReadOnlyList<X509Certificate2> certificates = [];
        ECDsa? key = null;
        try
        {
            certificates = Pem.DecodeCertificates(File.ReadAllText(upstream.CertFilePath));
            if (certificates.Count == 0)
            {
                errors.Add($"server.upstream_authority.cert_file_path: \"{upstream.CertFilePath}\" holds no certificate");
            }
        }
        catch (Exception e) when (e is IOException or CryptographicException or FormatException or ArgumentException)
        {
            errors.Add($"server.upstream_authority.cert_file_path: cannot read \"{upstream.CertFilePath}\": {e.Message}");
        }

        try
        {
            key = ECDsa.Create();
            key.ImportFromPem(File.ReadAllText(upstream.KeyFilePath));
        }
        catch (Exception e) when (e is IOException or CryptographicException or ArgumentException)
        {
            errors.Add($"server.upstream_authority.key_file_path: cannot read an EC private key from \"{upstream.KeyFilePath}\": {e.Message}");
            key?.Dispose();
            key = null;
        }

        if (certificates.Count > 0 && key is not null)
        {
            var signer = certificates[0];
            if (!signer.IsCertificateAuthority())
            {
                errors.Add("server.upstream_authority.cert_file_path: the first certificate is not a CA (basicConstraints cA=false)");
            }

            if (!signer.MatchesPrivateKey(key))
            {
                errors.Add("server.upstream_authority.key_file_path: the key does not belong to the first certificate of cert_file_path");
            }
        }

        if (errors.Count > 0)
        {
            key?.Dispose();
            throw new ConfigException(errors);
        }

        _upstreamCertificate = certificates[0];
        _upstreamKey = key;
        var roots = certificates.Where(c => c.SubjectName.RawData.AsSpan().SequenceEqual(c.IssuerName.RawData)).ToList();
        _upstreamRoots = roots.Count > 0 ? roots : [certificates[^1]];
        _upstreamIntermediates = certificates.Where(c => !_upstreamRoots.Contains(c)).ToList();
    }

    private static Validity ToValidity(AuthorityRecord record) =>
        new(DateTimeOffset.FromUnixTimeSeconds(record.NotBefore), DateTimeOffset.FromUnixTimeSeconds(record.NotAfter));

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Created {Kind} authority {Id} ({State}), valid until {NotAfter:o}.")]
    private partial void LogAuthorityCreated(AuthorityKind kind, string id, AuthorityState state, DateTimeOffset notAfter);

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Activated prepared {Kind} authority {Id}.")]
    private partial void LogAuthorityActivated(AuthorityKind kind, string id);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Pruned expired {Kind} authority {Id} from the bundle.")]
    private partial void LogAuthorityPruned(AuthorityKind kind, string id);
}
