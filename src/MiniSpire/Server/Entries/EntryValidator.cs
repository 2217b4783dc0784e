using Spiffe;

namespace MiniSpire.Server.Entries;

/// <summary>Checks an entry as SPIRE does, naming the field of every problem; all problems at once.</summary>
internal static class EntryValidator
{
    public const int MaxHintLength = 1024;

    public static IReadOnlyList<string> Validate(RegistrationEntry entry, TrustDomain trustDomain)
    {
        var errors = new List<string>();
        ValidateId(entry.SpiffeId, "spiffe_id", trustDomain, errors, workload: true);
        ValidateId(entry.ParentId, "parent_id", trustDomain, errors, workload: false);

        if (entry.Selectors.Count == 0)
        {
            errors.Add("selectors: at least one selector is required");
        }

        foreach (var selector in entry.Selectors)
        {
            if (string.IsNullOrEmpty(selector.Type) || string.IsNullOrEmpty(selector.Value))
            {
                errors.Add($"selectors: \"{selector}\" must be \"type:value\" with neither part empty");
            }
            else if (selector.Type.Contains(':', StringComparison.Ordinal))
            {
                errors.Add($"selectors: type \"{selector.Type}\" must not contain ':'");
            }
        }

        if (entry.Selectors.Distinct().Count() != entry.Selectors.Count)
        {
            errors.Add("selectors: a selector is listed twice");
        }

        if (entry.X509SvidTtl < 0)
        {
            errors.Add($"x509_svid_ttl: must not be negative, got {entry.X509SvidTtl}");
        }

        if (entry.JwtSvidTtl < 0)
        {
            errors.Add($"jwt_svid_ttl: must not be negative, got {entry.JwtSvidTtl}");
        }

        foreach (var dns in entry.DnsNames)
        {
            if (!IsDnsName(dns))
            {
                errors.Add($"dns_names: \"{dns}\" is not a valid DNS name");
            }
        }

        foreach (var td in entry.FederatesWith)
        {
            if (!TrustDomain.TryParse(td, out var federated, out var error))
            {
                errors.Add($"federates_with: \"{td}\": {error}");
            }
            else if (federated.Equals(trustDomain))
            {
                errors.Add($"federates_with: \"{td}\" is the server's own trust domain");
            }
        }

        if (System.Text.Encoding.UTF8.GetByteCount(entry.Hint) > MaxHintLength)
        {
            errors.Add($"hint: must be at most {MaxHintLength} bytes");
        }

        if (entry.ExpiresAt < 0)
        {
            errors.Add("expires_at: must not be negative");
        }

        return errors;
    }

    private static void ValidateId(string text, string field, TrustDomain trustDomain, List<string> errors, bool workload)
    {
        if (string.IsNullOrEmpty(text))
        {
            errors.Add($"{field}: is required");
            return;
        }

        if (!SpiffeId.TryParse(text, out var id, out var error))
        {
            errors.Add($"{field}: \"{text}\" is not a SPIFFE ID: {error}");
            return;
        }

        if (!id.IsMemberOf(trustDomain))
        {
            errors.Add($"{field}: \"{text}\" is not a member of trust domain \"{trustDomain}\"");
            return;
        }

        if (workload)
        {
            if (id.IsTrustDomainId)
            {
                errors.Add($"{field}: \"{text}\" has no path (a workload ID needs one)");
            }
            else if (id.Path == "/spire" || id.Path.StartsWith("/spire/", StringComparison.Ordinal))
            {
                errors.Add($"{field}: \"{text}\" is in the reserved \"/spire\" namespace");
            }
        }
    }

    private static bool IsDnsName(string name)
    {
        if (name.Length is 0 or > 253)
        {
            return false;
        }

        var labels = name.Split('.');
        for (var i = 0; i < labels.Length; i++)
        {
            var label = labels[i];
            if (i == 0 && label == "*" && labels.Length > 1)
            {
                continue;
            }

            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-'
                || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-'))
            {
                return false;
            }
        }

        return true;
    }
}
