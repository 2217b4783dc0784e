using System.Text;
using MiniSpire.Proto;
using Spiffe;

namespace MiniSpire.Cli;

/// <summary><c>minispire server entry create|show|update|delete</c>.</summary>
internal static class EntryCommands
{
    public static Task<int> RunAsync(string verb, IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken ct) => verb switch
    {
        "create" => CreateOrUpdateAsync(args, stdout, update: false, ct),
        "update" => CreateOrUpdateAsync(args, stdout, update: true, ct),
        "show" => ShowAsync(args, stdout, ct),
        "delete" => DeleteAsync(args, stdout, ct),
        _ => throw new CliException($"unknown entry command \"{verb}\" (create, show, update, delete)"),
    };

    private static FlagSet EntryFlags(string command, bool update)
    {
        var flags = CommandSupport.NewFlags(command, output: true)
            .String("parentID", "The SPIFFE ID of this record's parent")
            .String("spiffeID", "The SPIFFE ID that this record represents")
            .List("selector", "A colon-delimited type:value selector. Can be used more than once")
            .String("x509SVIDTTL", "The lifetime, in seconds, for x509-SVIDs issued based on this registration entry")
            .String("jwtSVIDTTL", "The lifetime, in seconds, for JWT-SVIDs issued based on this registration entry")
            .List("dns", "A DNS name that will be included in SVIDs issued based on this entry. Can be used more than once")
            .List("federatesWith", "SPIFFE ID of a trust domain to federate with. Can be used more than once")
            .String("hint", "The entry hint, used to disambiguate entries with the same SPIFFE ID")
            .Bool("admin", "If set, the SPIFFE ID in this entry will be granted access to the Server APIs")
            .Bool("downstream", "A boolean value that, when set, indicates that the entry describes a downstream SPIRE server")
            .Bool("node", "If set, this entry will be applied to matching nodes rather than workloads (its parent is the server)")
            .String("entryExpiry", "An expiry, from epoch in seconds, for the resulting registration entry to be pruned");
        return update ? flags.String("entryID", "The Registration Entry ID of the record to update") : flags;
    }

    private static async Task<int> CreateOrUpdateAsync(IReadOnlyList<string> args, TextWriter stdout, bool update, CancellationToken ct)
    {
        var flags = EntryFlags(update ? "entry update" : "entry create", update);
        CommandSupport.ParseOrThrow(flags, args);
        var errors = new List<string>();
        var (channel, client) = AdminClient.Connect(CommandSupport.SocketPath(flags));
        using var _ = channel;

        Entry entry;
        if (update)
        {
            var id = flags.GetString("entryID");
            if (string.IsNullOrEmpty(id))
            {
                throw new CliException("-entryID: is required");
            }

            var found = await client.ListEntriesAsync(new ListEntriesRequest { EntryId = id }, cancellationToken: ct);
            entry = found.Entries.FirstOrDefault() ?? throw new CliException($"-entryID: entry \"{id}\" not found");
        }
        else
        {
            entry = new Entry();
            foreach (var required in new[] { "parentID", "spiffeID", "selector" })
            {
                if (!flags.IsSet(required) && !(required == "parentID" && flags.GetBool("node")))
                {
                    errors.Add($"-{required}: is required");
                }
            }
        }

        if (flags.GetBool("node"))
        {
            if (flags.IsSet("parentID"))
            {
                errors.Add("-parentID: cannot be used with -node (a node entry's parent is the server)");
            }
            else if (flags.GetString("spiffeID") is { } nodeId && SpiffeId.TryParse(nodeId, out var parsed))
            {
                entry.ParentId = SpiffeId.FromSegments(parsed.TrustDomain, "spire", "server").ToString();
            }
        }

        if (flags.GetString("parentID") is { } parent)
        {
            entry.ParentId = parent;
        }

        if (flags.GetString("spiffeID") is { } spiffe)
        {
            entry.SpiffeId = spiffe;
        }

        if (flags.IsSet("selector"))
        {
            entry.Selectors.Clear();
            foreach (var text in flags.GetList("selector"))
            {
                if (Entries.Selector.TryParse(text, out var selector, out var error))
                {
                    entry.Selectors.Add(new Selector { Type = selector.Type, Value = selector.Value });
                }
                else
                {
                    errors.Add("-selector: " + error);
                }
            }
        }

        if (CommandSupport.Seconds(flags, "x509SVIDTTL", errors) is { } x509Ttl)
        {
            entry.X509SvidTtl = x509Ttl;
        }

        if (CommandSupport.Seconds(flags, "jwtSVIDTTL", errors) is { } jwtTtl)
        {
            entry.JwtSvidTtl = jwtTtl;
        }

        if (flags.IsSet("dns"))
        {
            entry.DnsNames.Clear();
            entry.DnsNames.AddRange(flags.GetList("dns"));
        }

        if (flags.IsSet("federatesWith"))
        {
            entry.FederatesWith.Clear();
            entry.FederatesWith.AddRange(flags.GetList("federatesWith"));
        }

        if (flags.GetString("entryExpiry") is { } expiryText)
        {
            if (long.TryParse(expiryText, out var expiry) && expiry >= 0)
            {
                entry.ExpiresAt = expiry;
            }
            else
            {
                errors.Add($"-entryExpiry: must be seconds since the epoch, got \"{expiryText}\"");
            }
        }

        if (flags.GetString("hint") is { } hint)
        {
            entry.Hint = hint;
        }

        if (flags.IsSet("admin"))
        {
            entry.Admin = flags.GetBool("admin");
        }

        if (flags.IsSet("downstream"))
        {
            entry.Downstream = flags.GetBool("downstream");
        }

        if (errors.Count > 0)
        {
            throw new CliException(string.Join("; ", errors));
        }

        var result = update
            ? await client.UpdateEntryAsync(entry, cancellationToken: ct)
            : await client.CreateEntryAsync(entry, cancellationToken: ct);
        await stdout.WriteAsync(CommandSupport.WantsJson(flags) ? CommandSupport.ToJson(result) + Environment.NewLine : Format(result));
        return 0;
    }

    private static async Task<int> ShowAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var flags = CommandSupport.NewFlags("entry show", output: true)
            .String("entryID", "The Entry ID of the records to show")
            .String("spiffeID", "The SPIFFE ID of the records to show")
            .String("parentID", "The Parent ID of the records to show")
            .List("selector", "A colon-delimited type:value selector. Can be used more than once");
        CommandSupport.ParseOrThrow(flags, args);
        var request = new ListEntriesRequest
        {
            EntryId = flags.GetString("entryID") ?? string.Empty,
            SpiffeId = flags.GetString("spiffeID") ?? string.Empty,
            ParentId = flags.GetString("parentID") ?? string.Empty,
        };
        foreach (var text in flags.GetList("selector"))
        {
            if (!Entries.Selector.TryParse(text, out var selector, out var error))
            {
                throw new CliException("-selector: " + error);
            }

            request.Selectors.Add(new Selector { Type = selector.Type, Value = selector.Value });
        }

        var (channel, client) = AdminClient.Connect(CommandSupport.SocketPath(flags));
        using var _ = channel;
        var response = await client.ListEntriesAsync(request, cancellationToken: ct);
        if (CommandSupport.WantsJson(flags))
        {
            await stdout.WriteLineAsync(CommandSupport.ToJson(response));
            return 0;
        }

        var text2 = new StringBuilder();
        text2.Append("Found ").Append(response.Entries.Count).Append(response.Entries.Count == 1 ? " entry" : " entries").AppendLine();
        foreach (var entry in response.Entries)
        {
            text2.Append(Format(entry)).AppendLine();
        }

        await stdout.WriteAsync(text2.ToString());
        return 0;
    }

    private static async Task<int> DeleteAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var flags = CommandSupport.NewFlags("entry delete", output: false).String("entryID", "The Registration Entry ID of the record to delete");
        CommandSupport.ParseOrThrow(flags, args);
        var id = flags.GetString("entryID");
        if (string.IsNullOrEmpty(id))
        {
            throw new CliException("-entryID: is required");
        }

        var (channel, client) = AdminClient.Connect(CommandSupport.SocketPath(flags));
        using var _ = channel;
        await client.DeleteEntryAsync(new DeleteEntryRequest { Id = id }, cancellationToken: ct);
        await stdout.WriteLineAsync($"Deleted entry with ID: {id}");
        return 0;
    }

    /// <summary>An entry the way <c>spire-server entry show</c> prints it.</summary>
    public static string Format(Entry entry)
    {
        var text = new StringBuilder();
        Line(text, "Entry ID", entry.Id);
        Line(text, "SPIFFE ID", entry.SpiffeId);
        Line(text, "Parent ID", entry.ParentId);
        Line(text, "Revision", entry.RevisionNumber.ToString());
        if (entry.Downstream)
        {
            Line(text, "Downstream", "true");
        }

        Line(text, "X509-SVID TTL", entry.X509SvidTtl == 0 ? "default" : entry.X509SvidTtl.ToString());
        Line(text, "JWT-SVID TTL", entry.JwtSvidTtl == 0 ? "default" : entry.JwtSvidTtl.ToString());
        if (entry.ExpiresAt != 0)
        {
            Line(text, "Expiration time", CommandSupport.FormatTime(entry.ExpiresAt));
        }

        foreach (var selector in entry.Selectors)
        {
            Line(text, "Selector", selector.Type + ":" + selector.Value);
        }

        foreach (var td in entry.FederatesWith)
        {
            Line(text, "FederatesWith", td);
        }

        foreach (var dns in entry.DnsNames)
        {
            Line(text, "DNS name", dns);
        }

        if (entry.Admin)
        {
            Line(text, "Admin", "true");
        }

        if (entry.Hint.Length > 0)
        {
            Line(text, "Hint", entry.Hint);
        }

        return text.ToString();
    }

    private static void Line(StringBuilder text, string label, string value) =>
        text.Append(label.PadRight(17)).Append(": ").Append(value).AppendLine();
}
