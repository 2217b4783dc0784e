using MiniSpire.Entries;
using MiniSpire.Server.Entries;

namespace MiniSpire.Server.Datastore;

/// <summary>An attested agent. Serial numbers are the agent SVID's, as lower-case hex.</summary>
internal sealed record AgentRecord
{
    public required string SpiffeId { get; init; }

    public required string AttestationType { get; init; }

    public required string SerialNumber { get; init; }

    /// <summary>The serial of an SVID issued by renewal that the agent has not used yet, or empty.</summary>
    public string NewSerialNumber { get; init; } = string.Empty;

    public long ExpiresAt { get; init; }

    public IReadOnlyList<Selector> Selectors { get; init; } = [];

    public long CreatedAt { get; init; }

    /// <summary>Banned by <c>agent ban</c>: refused until evicted. An attestation's upsert leaves it as it is.</summary>
    public bool Banned { get; init; }
}

internal enum AuthorityKind
{
    X509,
    Jwt,
}

/// <summary>A stored CA or JWT key: PKCS#8 key and, for X.509, the DER certificate.</summary>
internal sealed record AuthorityRecord(
    string Id, AuthorityKind Kind, string State, byte[] KeyPkcs8, byte[]? CertificateDer, long NotBefore, long NotAfter);

/// <summary>A federated trust domain's bundle: DER X.509 authorities concatenated, and a JWKS of JWT authorities.</summary>
internal sealed record FederatedBundleRecord(string TrustDomain, IReadOnlyList<byte[]> X509Authorities, byte[] JwtAuthoritiesJwks, long SequenceNumber);

/// <summary>What redeeming a join token found.</summary>
internal enum JoinTokenOutcome
{
    Redeemed,
    NotFound,
    Expired,
}

/// <summary>An entry with the same parent ID, SPIFFE ID and selectors already exists.</summary>
internal sealed class DuplicateEntryException : Exception
{
    public DuplicateEntryException(string existingId)
        : base($"an entry with the same parent ID, SPIFFE ID and selectors already exists (entry ID {existingId})")
    {
        ExistingId = existingId;
    }

    public DuplicateEntryException()
        : this(string.Empty)
    {
    }

    public DuplicateEntryException(string message, Exception innerException)
        : base(message, innerException)
    {
        ExistingId = string.Empty;
    }

    public string ExistingId { get; }
}
