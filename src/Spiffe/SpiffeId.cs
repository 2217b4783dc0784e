using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Spiffe;

/// <summary>
/// A SPIFFE ID (<c>spiffe://trust-domain/path</c>), validated exactly as the SPIFFE ID standard
/// requires. Instances are immutable and always valid.
/// </summary>
public sealed class SpiffeId : IEquatable<SpiffeId>, IParsable<SpiffeId>
{
    /// <summary>The only scheme a SPIFFE ID may have, with its separator.</summary>
    public const string Scheme = "spiffe://";

    /// <summary>Maximum length of a SPIFFE ID in bytes that implementations must support.</summary>
    public const int MaxLength = 2048;

    private readonly string _text;

    private SpiffeId(TrustDomain trustDomain, string path, string text)
    {
        TrustDomain = trustDomain;
        Path = path;
        _text = text;
    }

    /// <summary>The trust domain the ID belongs to.</summary>
    public TrustDomain TrustDomain { get; }

    /// <summary>The path, empty or starting with <c>/</c>, for example <c>/ns/default/sa/web</c>.</summary>
    public string Path { get; }

    /// <summary>Whether this ID names a trust domain itself (empty path).</summary>
    public bool IsTrustDomainId => Path.Length == 0;

    /// <summary>Whether the ID belongs to <paramref name="trustDomain"/>.</summary>
    public bool IsMemberOf(TrustDomain trustDomain) => TrustDomain.Equals(trustDomain);

    /// <summary>Parses a SPIFFE ID.</summary>
    /// <exception cref="SpiffeIdFormatException">The text breaks a rule of the standard; the message names it.</exception>
    public static SpiffeId Parse(string s) =>
        TryParse(s, out var id, out var error) ? id : throw new SpiffeIdFormatException(error);

    /// <inheritdoc cref="Parse(string)"/>
    public static SpiffeId Parse(string s, IFormatProvider? provider) => Parse(s);

    /// <summary>Parses a SPIFFE ID without throwing.</summary>
    public static bool TryParse([NotNullWhen(true)] string? s, [MaybeNullWhen(false)] out SpiffeId result) =>
        TryParse(s, out result, out _);

    /// <inheritdoc cref="TryParse(string?, out SpiffeId)"/>
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, [MaybeNullWhen(false)] out SpiffeId result) =>
        TryParse(s, out result, out _);

    /// <summary>Parses a SPIFFE ID, returning the broken rule as text on failure.</summary>
    public static bool TryParse([NotNullWhen(true)] string? s, [MaybeNullWhen(false)] out SpiffeId result, [MaybeNullWhen(true)] out string error)
    {
        result = null;
        if (string.IsNullOrEmpty(s))
        {
            error = SpiffeIdErrors.Empty;
            return false;
        }

        if (!s.StartsWith(Scheme, StringComparison.Ordinal))
        {
            error = SpiffeIdErrors.WrongScheme;
            return false;
        }

        if (Encoding.UTF8.GetByteCount(s) > MaxLength)
        {
            error = SpiffeIdErrors.IdTooLong;
            return false;
        }

        var rest = s.AsSpan(Scheme.Length);
        var slash = rest.IndexOf('/');
        var trustDomainName = slash < 0 ? rest : rest[..slash];
        var path = slash < 0 ? [] : rest[slash..];

        if (!SpiffeIdErrors.TryValidateTrustDomainName(trustDomainName, out var tdError, Scheme.Length))
        {
            error = tdError;
            return false;
        }

        if (!SpiffeIdErrors.TryValidatePath(path, out var pathError, Scheme.Length + trustDomainName.Length))
        {
            error = pathError;
            return false;
        }

        result = new SpiffeId(TrustDomain.FromValidatedName(trustDomainName.ToString()), path.ToString(), s);
        error = null;
        return true;
    }

    /// <summary>Builds an ID from a trust domain and path segments, each validated.</summary>
    /// <exception cref="SpiffeIdFormatException">A segment breaks a rule.</exception>
    public static SpiffeId FromSegments(TrustDomain trustDomain, params ReadOnlySpan<string> segments)
    {
        ArgumentNullException.ThrowIfNull(trustDomain);
        var builder = new StringBuilder(Scheme).Append(trustDomain.Name);
        foreach (var segment in segments)
        {
            builder.Append('/').Append(segment);
        }

        return Parse(builder.ToString());
    }

    /// <summary>The ID of a trust domain itself (empty path).</summary>
    internal static SpiffeId ForTrustDomain(TrustDomain trustDomain) =>
        new(trustDomain, string.Empty, Scheme + trustDomain.Name);

    /// <inheritdoc/>
    public bool Equals(SpiffeId? other) => other is not null && string.Equals(_text, other._text, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as SpiffeId);

    /// <inheritdoc/>
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(_text);

    /// <summary>The ID as text: <c>spiffe://trust-domain/path</c>.</summary>
    public override string ToString() => _text;

    /// <summary>Compares two IDs (case-sensitive, as the standard requires).</summary>
    public static bool operator ==(SpiffeId? left, SpiffeId? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Compares two IDs (case-sensitive, as the standard requires).</summary>
    public static bool operator !=(SpiffeId? left, SpiffeId? right) => !(left == right);
}
