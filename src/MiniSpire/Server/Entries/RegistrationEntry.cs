using MiniSpire.Entries;

namespace MiniSpire.Server.Entries;

/// <summary>A registration entry as the datastore holds it. TTLs are seconds, 0 = the server default.</summary>
internal sealed record RegistrationEntry
{
    public required string Id { get; init; }

    public required string SpiffeId { get; init; }

    public required string ParentId { get; init; }

    public required IReadOnlyList<Selector> Selectors { get; init; }

    public int X509SvidTtl { get; init; }

    public int JwtSvidTtl { get; init; }

    public IReadOnlyList<string> DnsNames { get; init; } = [];

    /// <summary>Trust domain names, e.g. <c>example.org</c>.</summary>
    public IReadOnlyList<string> FederatesWith { get; init; } = [];

    public bool Admin { get; init; }

    public bool Downstream { get; init; }

    public string Hint { get; init; } = string.Empty;

    /// <summary>Unix seconds; 0 = never.</summary>
    public long ExpiresAt { get; init; }

    public long CreatedAt { get; init; }

    public long RevisionNumber { get; init; }

    /// <summary>Selectors sorted, one per line: what makes two entries duplicates together with the IDs.</summary>
    public string SelectorsKey => string.Join('\n', Selectors.Select(s => s.ToString()).Order(StringComparer.Ordinal));

    public bool IsExpiredAt(DateTimeOffset now) => ExpiresAt != 0 && ExpiresAt <= now.ToUnixTimeSeconds();
}
