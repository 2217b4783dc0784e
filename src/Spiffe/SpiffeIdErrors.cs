using System.Diagnostics.CodeAnalysis;

namespace Spiffe;

/// <summary>
/// The rules of the SPIFFE ID standard (standards/SPIFFE-ID.md), each with the message that names it.
/// Kept in one place so the parser and the tests agree on which rule a string broke.
/// </summary>
internal static class SpiffeIdErrors
{
    public const string Empty = "a SPIFFE ID cannot be empty";
    public const string WrongScheme = "a SPIFFE ID must start with the scheme \"spiffe://\" (lower case)";
    public const string TrustDomainEmpty = "the trust domain cannot be empty";
    public const string TrustDomainTooLong = "the trust domain cannot be longer than 255 bytes";
    public const string IdTooLong = "a SPIFFE ID cannot be longer than 2048 bytes";
    public const string EmptySegment = "the path cannot contain an empty segment (\"//\")";
    public const string TrailingSlash = "the path cannot end with \"/\"";
    public const string DotSegment = "the path cannot contain \".\" or \"..\" segments";

    public static string TrustDomainCharacter(char c, int index) => c switch
    {
        >= 'A' and <= 'Z' => $"the trust domain must be lower case; '{c}' at index {index} is upper case",
        '%' => $"the trust domain cannot be percent-encoded; '%' at index {index}",
        '@' => $"the trust domain cannot carry user information; '@' at index {index}",
        ':' => $"the trust domain cannot carry a port; ':' at index {index}",
        '?' => $"a SPIFFE ID cannot have a query; '?' at index {index}",
        '#' => $"a SPIFFE ID cannot have a fragment; '#' at index {index}",
        _ => $"the trust domain may contain only a-z, 0-9, '.', '-' and '_'; {Describe(c)} at index {index} is not allowed",
    };

    public static string PathCharacter(char c, int index) => c switch
    {
        '%' => $"the path cannot be percent-encoded; '%' at index {index}",
        '?' => $"a SPIFFE ID cannot have a query; '?' at index {index}",
        '#' => $"a SPIFFE ID cannot have a fragment; '#' at index {index}",
        _ => $"path segments may contain only a-z, A-Z, 0-9, '.', '-' and '_'; {Describe(c)} at index {index} is not allowed",
    };

    public static bool IsTrustDomainChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '.' or '-' or '_';

    public static bool IsPathChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '-' or '_';

    /// <summary>Validates a bare trust domain name; <paramref name="offset"/> shifts reported indexes.</summary>
    public static bool TryValidateTrustDomainName(ReadOnlySpan<char> name, [NotNullWhen(false)] out string? error, int offset = 0)
    {
        if (name.IsEmpty)
        {
            error = TrustDomainEmpty;
            return false;
        }

        for (var i = 0; i < name.Length; i++)
        {
            if (!IsTrustDomainChar(name[i]))
            {
                error = TrustDomainCharacter(name[i], i + offset);
                return false;
            }
        }

        // Only ASCII passes the character check, so chars and bytes count the same.
        if (name.Length > TrustDomain.MaxLength)
        {
            error = TrustDomainTooLong;
            return false;
        }

        error = null;
        return true;
    }

    /// <summary>Validates a path (empty, or starting with '/'); <paramref name="offset"/> shifts reported indexes.</summary>
    public static bool TryValidatePath(ReadOnlySpan<char> path, [NotNullWhen(false)] out string? error, int offset = 0)
    {
        error = null;
        if (path.IsEmpty)
        {
            return true;
        }

        if (path[0] != '/')
        {
            error = $"the path must start with \"/\"; got '{path[0]}' at index {offset}";
            return false;
        }

        var segmentStart = 1;
        for (var i = 1; i <= path.Length; i++)
        {
            if (i < path.Length && path[i] != '/')
            {
                if (!IsPathChar(path[i]))
                {
                    error = PathCharacter(path[i], i + offset);
                    return false;
                }

                continue;
            }

            var segment = path[segmentStart..i];
            if (segment.IsEmpty)
            {
                error = i == path.Length ? TrailingSlash : EmptySegment;
                return false;
            }

            if (segment is "." or "..")
            {
                error = DotSegment;
                return false;
            }

            segmentStart = i + 1;
        }

        return true;
    }

    private static string Describe(char c) =>
        char.IsControl(c) || char.IsWhiteSpace(c) ? $"U+{(int)c:X4}" : $"'{c}'";
}
