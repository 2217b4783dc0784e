using System.Diagnostics.CodeAnalysis;

namespace Spiffe;

/// <summary>
/// A SPIFFE trust domain: the authority part of a SPIFFE ID (for example <c>example.org</c>).
/// Instances are always valid: they can only be made by parsing.
/// </summary>
public sealed class TrustDomain : IEquatable<TrustDomain>, IParsable<TrustDomain>
{
    /// <summary>Maximum length of a trust domain name in bytes, as the SPIFFE ID standard requires.</summary>
    public const int MaxLength = 255;

    private TrustDomain(string name) => Name = name;

    /// <summary>The trust domain name, for example <c>example.org</c>.</summary>
    public string Name { get; }

    /// <summary>The SPIFFE ID of the trust domain itself, for example <c>spiffe://example.org</c>.</summary>
    public string IdString => SpiffeId.Scheme + Name;

    /// <summary>The trust domain as a SPIFFE ID with an empty path.</summary>
    public SpiffeId ToSpiffeId() => SpiffeId.ForTrustDomain(this);

    /// <summary>
    /// Parses a trust domain name (<c>example.org</c>) or the SPIFFE ID of a trust domain
    /// (<c>spiffe://example.org</c>, the form SPIRE uses as bundle map keys).
    /// </summary>
    /// <exception cref="SpiffeIdFormatException">The text breaks a rule; the message names it.</exception>
    public static TrustDomain Parse(string s) =>
        TryParse(s, out var trustDomain, out var error) ? trustDomain : throw new SpiffeIdFormatException(error);

    /// <inheritdoc cref="Parse(string)"/>
    public static TrustDomain Parse(string s, IFormatProvider? provider) => Parse(s);

    /// <summary>Parses like <see cref="Parse(string)"/> without throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? s, [MaybeNullWhen(false)] out TrustDomain result) =>
        TryParse(s, out result, out _);

    /// <inheritdoc cref="TryParse(string?, out TrustDomain)"/>
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, [MaybeNullWhen(false)] out TrustDomain result) =>
        TryParse(s, out result, out _);

    /// <summary>Parses like <see cref="Parse(string)"/>, returning the broken rule as text on failure.</summary>
    public static bool TryParse([NotNullWhen(true)] string? s, [MaybeNullWhen(false)] out TrustDomain result, [MaybeNullWhen(true)] out string error)
    {
        result = null;
        if (string.IsNullOrEmpty(s))
        {
            error = SpiffeIdErrors.TrustDomainEmpty;
            return false;
        }

        if (s.Contains("://", StringComparison.Ordinal))
        {
            if (!SpiffeId.TryParse(s, out var id, out error))
            {
                return false;
            }

            if (id.Path.Length != 0)
            {
                error = $"a trust domain cannot have a path; got \"{s}\"";
                return false;
            }

            result = id.TrustDomain;
            return true;
        }

        if (!SpiffeIdErrors.TryValidateTrustDomainName(s, out error))
        {
            return false;
        }

        result = new TrustDomain(s);
        return true;
    }

    /// <summary>Creates a trust domain from a name that the caller has already validated.</summary>
    internal static TrustDomain FromValidatedName(string name) => new(name);

    /// <inheritdoc/>
    public bool Equals(TrustDomain? other) => other is not null && string.Equals(Name, other.Name, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as TrustDomain);

    /// <inheritdoc/>
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Name);

    /// <summary>The trust domain name.</summary>
    public override string ToString() => Name;

    /// <summary>Compares two trust domains by name.</summary>
    public static bool operator ==(TrustDomain? left, TrustDomain? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two trust domains by name.</summary>
    public static bool operator !=(TrustDomain? left, TrustDomain? right) => !(left == right);
}
