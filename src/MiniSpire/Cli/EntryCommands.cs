using System.CommandLine;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using MiniSpire.Proto;
using Spiffe;

namespace MiniSpire.Cli;

/// <summary><c>minispire server entry create|update|show|count|delete</c>, as <c>spire-server entry ...</c>.</summary>
internal static class EntryCommands
{
    public static Command Build()
    {
        var entry = new Command("entry", "Registration entries");
        entry.Subcommands.Add(CreateOrUpdate(update: false));
        entry.Subcommands.Add(CreateOrUpdate(update: true));
        entry.Subcommands.Add(ShowOrCount(count: false));
        entry.Subcommands.Add(ShowOrCount(count: true));
        entry.Subcommands.Add(Delete());
        return entry;
    }

    /// <summary>What MiniSpire does with SPIRE's <c>-storeSVID</c>: accepts it and says it has nowhere to store.</summary>
    public const string StoreSvidWarning =
        "Warning: -storeSVID: MiniSpire has no SVIDStore plugin; the entry is saved without it and its SVIDs are served on the Workload API as any other's.";

    private static Command CreateOrUpdate(bool update)
    {
        var socket = CommandSupport.ServerSocket();
        var output = CommandSupport.Output();
        var entryId = CommandSupport.String("-entryID", update
            ? "The Registration Entry ID of the record to update"
            : "A custom ID for this registration entry (optional). If not set, a new entry ID will be generated");
        var parentId = CommandSupport.String("-parentID", "The SPIFFE ID of this record's parent");
        var spiffeId = CommandSupport.String("-spiffeID", "The SPIFFE ID that this record represents");
        var x509Ttl = CommandSupport.Int("-x509SVIDTTL", "The lifetime, in seconds, for x509-SVIDs issued based on this registration entry (0: the server's default)", 0);
        var jwtTtl = CommandSupport.Int("-jwtSVIDTTL", "The lifetime, in seconds, for JWT-SVIDs issued based on this registration entry (0: the server's default)", 0);
        var data = CommandSupport.String("-data", "Path to a file containing registration JSON (optional). If set to '-', read the JSON from stdin.");
        var selector = CommandSupport.List("-selector", "A colon-delimited type:value selector. Can be used more than once");
        var federatesWith = CommandSupport.List("-federatesWith", "SPIFFE ID of a trust domain to federate with. Can be used more than once");
        var admin = CommandSupport.Bool("-admin", "If set, the SPIFFE ID in this entry will be granted access to the server's admin APIs");
        var downstream = CommandSupport.Bool("-downstream", "A boolean value that, when set, indicates that the entry describes a downstream SPIRE server");
        var storeSvid = CommandSupport.Bool("-storeSVID", "Accepted as SPIRE's; MiniSpire has no SVIDStore plugin, so it warns and serves the SVIDs on the Workload API");
        var entryExpiry = CommandSupport.Int64("-entryExpiry", "An expiry, from epoch in seconds, for the resulting registration entry to be pruned (0: never)", 0);
        var dns = CommandSupport.List("-dns", "A DNS name that will be included in SVIDs issued based on this entry, where appropriate. Can be used more than once");
        var hint = CommandSupport.String("-hint", "The entry hint, used to disambiguate entries with the same SPIFFE ID");
        var node = CommandSupport.Bool("-node", "If set, this entry will be applied to matching nodes rather than workloads (its parent is the server)");
        var command = CommandSupport.Command(
            update ? "update" : "create",
            update ? "Updates registration entries (the whole entry is replaced, as spire-server's)" : "Creates registration entries",
            socket, output, entryId, parentId, spiffeId, x509Ttl, jwtTtl, data, selector, federatesWith, admin, downstream, storeSvid, entryExpiry, dns, hint);
        if (!update)
        {
            command.Options.Add(node);
        }

        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            List<Entry> entries;
            if (result.GetValue(data) is { } path)
            {
                var warnings = new List<string>();
                entries = ReadData(path, update, warnings);
                foreach (var warning in warnings.Distinct())
                {
                    await stderr.WriteLineAsync(warning);
                }
            }
            else
            {
                var errors = new List<string>();
                var entry = new Entry
                {
                    Id = result.GetValue(entryId) ?? string.Empty,
                    ParentId = result.GetValue(parentId) ?? string.Empty,
                    SpiffeId = result.GetValue(spiffeId) ?? string.Empty,
                    X509SvidTtl = CommandSupport.Seconds(result, x509Ttl, errors, "x509-SVID TTL"),
                    JwtSvidTtl = CommandSupport.Seconds(result, jwtTtl, errors, "JWT-SVID TTL"),
                    Admin = result.GetValue(admin),
                    Downstream = result.GetValue(downstream),
                    ExpiresAt = result.GetValue(entryExpiry),
                    Hint = result.GetValue(hint) ?? string.Empty,
                };
                entry.DnsNames.AddRange(result.GetValue(dns) ?? []);
                entry.FederatesWith.AddRange(result.GetValue(federatesWith) ?? []);
                if (entry.ExpiresAt < 0)
                {
                    errors.Add($"{entryExpiry.Name}: must be seconds since the epoch, got {entry.ExpiresAt}");
                }

                if (update && entry.Id.Length == 0)
                {
                    errors.Add("-entryID: is required");
                }

                var isNode = !update && result.GetValue(node);
                if (isNode && entry.ParentId.Length > 0)
                {
                    errors.Add("-parentID: cannot be used with -node (a node entry's parent is the server)");
                }
                else if (isNode && SpiffeId.TryParse(entry.SpiffeId, out var nodeId))
                {
                    entry.ParentId = SpiffeId.FromSegments(nodeId.TrustDomain, "spire", "server").ToString();
                }
                else if (!isNode && entry.ParentId.Length == 0)
                {
                    errors.Add("-parentID: is required");
                }

                if (entry.SpiffeId.Length == 0)
                {
                    errors.Add("-spiffeID: is required");
                }

                var selectors = result.GetValue(selector) ?? [];
                if (selectors.Length == 0)
                {
                    errors.Add("-selector: is required (at least one)");
                }

                foreach (var text in selectors)
                {
                    if (Entries.Selector.TryParse(text, out var parsed, out var error))
                    {
                        entry.Selectors.Add(new Selector { Type = parsed.Type, Value = parsed.Value });
                    }
                    else
                    {
                        errors.Add("-selector: " + error);
                    }
                }

                CommandSupport.ThrowIfAny(errors);
                if (result.GetValue(storeSvid))
                {
                    await stderr.WriteLineAsync(StoreSvidWarning);
                }

                entries = [entry];
            }

            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            var results = new List<Entry>();
            var failed = 0;
            foreach (var entry in entries)
            {
                try
                {
                    results.Add(update ? await client.UpdateEntryAsync(entry, cancellationToken: ct) : await client.CreateEntryAsync(entry, cancellationToken: ct));
                }
                catch (RpcException e) when (entries.Count > 1 && e.StatusCode is not (StatusCode.Unavailable or StatusCode.DeadlineExceeded))
                {
                    // A batch goes on past a refused entry, as SPIRE's, and names each refusal.
                    failed++;
                    await stderr.WriteLineAsync($"Failed to {(update ? "update" : "create")} the following entry (code: {e.StatusCode}, msg: \"{e.Status.Detail}\"):");
                    await stderr.WriteAsync(Format(entry) + Environment.NewLine);
                }
            }

            foreach (var done in results)
            {
                await stdout.WriteAsync(CommandSupport.WantsJson(result, output) ? CommandSupport.ToJson(done) + Environment.NewLine : Format(done) + Environment.NewLine);
            }

            return failed == 0 ? ExitCodes.Success
                : throw new CliException($"failed to {(update ? "update" : "create")} one or more entries", ExitCodes.Failure);
        });
        return command;
    }

    /// <summary>
    /// A <c>-data</c> file in SPIRE's format: <c>{"entries": [{"spiffe_id": ..., "parent_id": ..., "selectors":
    /// [{"type": ..., "value": ...}], "x509_svid_ttl": ..., ...}]}</c>; <c>-</c> reads standard input.
    /// </summary>
    internal static List<Entry> ReadData(string path, bool update, List<string> warnings)
    {
        string text;
        try
        {
            text = path == "-" ? Console.In.ReadToEnd() : File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"-data: cannot read \"{path}\": {e.Message}");
        }

        var entries = new List<Entry>();
        var errors = new List<string>();
        try
        {
            using var json = JsonDocument.Parse(text);
            if (json.RootElement.ValueKind != JsonValueKind.Object || !json.RootElement.TryGetProperty("entries", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                throw new CliException($"-data: \"{path}\" holds no \"entries\" array");
            }

            var index = 0;
            foreach (var item in list.EnumerateArray())
            {
                entries.Add(ReadEntry(item, $"entries[{index++}]", update, errors, warnings));
            }
        }
        catch (JsonException e)
        {
            throw new CliException($"-data: \"{path}\" is not JSON: {e.Message}");
        }

        if (errors.Count > 0)
        {
            throw new CliException($"-data: \"{path}\": " + string.Join("; ", errors));
        }

        return entries;
    }

    private static Entry ReadEntry(JsonElement item, string at, bool update, List<string> errors, List<string> warnings)
    {
        var entry = new Entry();
        if (item.ValueKind != JsonValueKind.Object)
        {
            errors.Add($"{at}: must be an object");
            return entry;
        }

        foreach (var property in item.EnumerateObject())
        {
            var value = property.Value;
            var name = $"{at}.{property.Name}";
            switch (property.Name)
            {
                case "entry_id": entry.Id = String(value, name, errors); break;
                case "spiffe_id": entry.SpiffeId = String(value, name, errors); break;
                case "parent_id": entry.ParentId = String(value, name, errors); break;
                case "hint": entry.Hint = String(value, name, errors); break;
                case "x509_svid_ttl": entry.X509SvidTtl = (int)Number(value, name, errors, int.MaxValue); break;
                case "jwt_svid_ttl": entry.JwtSvidTtl = (int)Number(value, name, errors, int.MaxValue); break;
                case "entryExpiry": entry.ExpiresAt = Number(value, name, errors, long.MaxValue); break;
                case "admin": entry.Admin = Bool(value, name, errors); break;
                case "downstream": entry.Downstream = Bool(value, name, errors); break;
                case "store_svid":
                    if (Bool(value, name, errors))
                    {
                        warnings.Add(StoreSvidWarning);
                    }

                    break;
                case "dns_names": entry.DnsNames.AddRange(Strings(value, name, errors)); break;
                case "federates_with": entry.FederatesWith.AddRange(Strings(value, name, errors)); break;
                case "selectors":
                    if (value.ValueKind != JsonValueKind.Array)
                    {
                        errors.Add($"{name}: must be an array of {{\"type\", \"value\"}}");
                        break;
                    }

                    foreach (var s in value.EnumerateArray())
                    {
                        if (s.ValueKind == JsonValueKind.Object && s.TryGetProperty("type", out var type) && s.TryGetProperty("value", out var v)
                            && type.ValueKind == JsonValueKind.String && v.ValueKind == JsonValueKind.String)
                        {
                            entry.Selectors.Add(new Selector { Type = type.GetString()!, Value = v.GetString()! });
                        }
                        else
                        {
                            errors.Add($"{name}: each selector is {{\"type\": string, \"value\": string}}");
                        }
                    }

                    break;
                case "revision_number" or "created_at" or "additional_attributes":
                    break;
                default:
                    errors.Add($"{name}: unknown field");
                    break;
            }
        }

        if (update && entry.Id.Length == 0)
        {
            errors.Add($"{at}.entry_id: is required to update an entry");
        }

        return entry;
    }

    private static string String(JsonElement value, string name, List<string> errors)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString()!;
        }

        errors.Add($"{name}: must be a string");
        return string.Empty;
    }

    private static long Number(JsonElement value, string name, List<string> errors, long max)
    {
        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) && n >= 0 && n <= max)
        {
            return n;
        }

        errors.Add($"{name}: must be a non-negative integer");
        return 0;
    }

    private static bool Bool(JsonElement value, string name, List<string> errors)
    {
        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return value.GetBoolean();
        }

        errors.Add($"{name}: must be true or false");
        return false;
    }

    private static List<string> Strings(JsonElement value, string name, List<string> errors)
    {
        if (value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(v => v.ValueKind == JsonValueKind.String))
        {
            return value.EnumerateArray().Select(v => v.GetString()!).ToList();
        }

        errors.Add($"{name}: must be an array of strings");
        return [];
    }

    private static Command ShowOrCount(bool count)
    {
        var socket = CommandSupport.ServerSocket();
        var output = CommandSupport.Output();
        var entryId = CommandSupport.String("-entryID", "The Entry ID of the records to show");
        var spiffeId = CommandSupport.String("-spiffeID", count ? "The SPIFFE ID of the records to count" : "The SPIFFE ID of the records to show");
        var parentId = CommandSupport.String("-parentID", count ? "The Parent ID of the records to count" : "The Parent ID of the records to show");
        var selector = CommandSupport.List("-selector", "A colon-delimited type:value selector. Can be used more than once (entries holding all of them)");
        var command = count
            ? CommandSupport.Command("count", "Count registration entries", socket, output, spiffeId, parentId, selector)
            : CommandSupport.Command("show", "Displays configured registration entries", socket, output, entryId, spiffeId, parentId, selector);
        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            var request = new ListEntriesRequest
            {
                EntryId = count ? string.Empty : result.GetValue(entryId) ?? string.Empty,
                SpiffeId = result.GetValue(spiffeId) ?? string.Empty,
                ParentId = result.GetValue(parentId) ?? string.Empty,
            };
            foreach (var text in result.GetValue(selector) ?? [])
            {
                if (!Entries.Selector.TryParse(text, out var parsed, out var error))
                {
                    throw new CliException($"-selector: error parsing selectors: {error}");
                }

                request.Selectors.Add(new Selector { Type = parsed.Type, Value = parsed.Value });
            }

            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            var response = await client.ListEntriesAsync(request, cancellationToken: ct);
            var json = CommandSupport.WantsJson(result, output);
            if (count)
            {
                await stdout.WriteLineAsync(json ? $"{{\"count\": {response.Entries.Count}}}" : CommandSupport.Count(response.Entries.Count, "registration ", "entry", "entries"));
                return ExitCodes.Success;
            }

            if (json)
            {
                await stdout.WriteLineAsync(CommandSupport.ToJson(response));
                return ExitCodes.Success;
            }

            var text2 = new StringBuilder();
            text2.Append("Found ").Append(response.Entries.Count).Append(response.Entries.Count == 1 ? " entry" : " entries").AppendLine();
            foreach (var entry in response.Entries)
            {
                text2.Append(Format(entry)).AppendLine();
            }

            await stdout.WriteAsync(text2.ToString());
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Delete()
    {
        var socket = CommandSupport.ServerSocket();
        var entryId = CommandSupport.String("-entryID", "The Registration Entry ID of the record to delete");
        var command = CommandSupport.Command("delete", "Deletes registration entries", socket, entryId);
        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            var id = CommandSupport.Required(result, entryId);
            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            await client.DeleteEntryAsync(new DeleteEntryRequest { Id = id }, cancellationToken: ct);
            await stdout.WriteLineAsync($"Deleted entry with ID: {id}");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>An entry the way <c>spire-server entry show</c> prints it.</summary>
    public static string Format(Entry entry)
    {
        var text = new StringBuilder();
        Line(text, "Entry ID", entry.Id.Length == 0 ? "(none)" : entry.Id);
        Line(text, "SPIFFE ID", entry.SpiffeId);
        Line(text, "Parent ID", entry.ParentId);
        Line(text, "Revision", entry.RevisionNumber.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (entry.Downstream)
        {
            Line(text, "Downstream", "true");
        }

        Line(text, "X509-SVID TTL", entry.X509SvidTtl == 0 ? "default" : entry.X509SvidTtl.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Line(text, "JWT-SVID TTL", entry.JwtSvidTtl == 0 ? "default" : entry.JwtSvidTtl.ToString(System.Globalization.CultureInfo.InvariantCulture));
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
