using MiniSpire.Server.Datastore;
using Prometheus;

namespace MiniSpire.Telemetry;

/// <summary>The server's metrics: SVIDs signed, registration entries, attested agents, node attestation failures.</summary>
internal sealed class ServerMetrics
{
    /// <summary>Reasons a node attestation is refused: a fixed set, so the label stays bounded.</summary>
    public const string UnsupportedAttestor = "unsupported_attestor";
    public const string MalformedToken = "malformed_token";
    public const string UnknownToken = "unknown_token";
    public const string ExpiredToken = "expired_token";
    public const string InvalidCsr = "invalid_csr";

    private readonly Counter _svidsSigned;
    private readonly Counter _attestationFailures;

    public ServerMetrics(SqliteDataStore store)
    {
        Registry = MetricsListener.NewRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _svidsSigned = factory.CreateCounter("minispire_server_svids_signed_total", "SVIDs signed by the server CA, by type (x509 includes agents' own SVIDs).", "svid_type");
        _attestationFailures = factory.CreateCounter("minispire_server_node_attestation_failures_total", "Refused node attestations, by reason.", "reason");
        var entries = factory.CreateGauge("minispire_server_registration_entries", "Registration entries in the datastore.");
        var agents = factory.CreateGauge("minispire_server_agents", "Attested agents in the datastore (including evicted-but-unexpired ones until deleted).");
        foreach (var type in new[] { "x509", "jwt" })
        {
            _svidsSigned.WithLabels(type);
        }

        foreach (var reason in new[] { UnsupportedAttestor, MalformedToken, UnknownToken, ExpiredToken, InvalidCsr })
        {
            _attestationFailures.WithLabels(reason);
        }

        // Counted from the datastore at scrape time, so the gauges cannot drift from the truth.
        Registry.AddBeforeCollectCallback(async cancellationToken =>
        {
            entries.Set((await store.ListEntriesAsync(cancellationToken)).Count);
            agents.Set((await store.ListAgentsAsync(cancellationToken)).Count);
        });
    }

    public CollectorRegistry Registry { get; }

    public void X509SvidSigned() => _svidsSigned.WithLabels("x509").Inc();

    public void JwtSvidSigned() => _svidsSigned.WithLabels("jwt").Inc();

    public void AttestationFailed(string reason) => _attestationFailures.WithLabels(reason).Inc();
}
