using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Google.Protobuf;
using MiniSpire.Proto;
using Spiffe.X509;

namespace MiniSpire.Cli;

/// <summary><c>minispire server bundle show|set|list</c>.</summary>
internal static class BundleCommands
{
    public static Task<int> RunAsync(string verb, IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, CancellationToken ct) => verb switch
    {
        "show" => ShowAsync(args, stdout, ct),
        "set" => SetAsync(args, stdout, ct),
        "list" => ListAsync(args, stdout, ct),
        "delete" => DeleteAsync(args, stdout, ct),
        _ => throw new CliException($"unknown bundle command \"{verb}\" (show, set, list, delete)"),
    };

    private static async Task<int> ShowAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var flags = CommandSupport.NewFlags("bundle show", output: true).String("format", "The format to show the bundle (pem, spiffe); default: pem");
        CommandSupport.ParseOrThrow(flags, args);
        var format = Format(flags);
        var (channel, client) = AdminClient.Connect(CommandSupport.SocketPath(flags));
        using var _ = channel;
        var bundle = await client.GetBundleAsync(new GetServerBundleRequest(), cancellationToken: ct);
        await stdout.WriteAsync(Render(bundle, format, CommandSupport.WantsJson(flags)));
        return 0;
    }

    private static async Task<int> ListAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var flags = CommandSupport.NewFlags("bundle list", output: true)
            .String("format", "The format to list federated bundles (pem, spiffe); default: pem")
            .String("id", "The trust domain SPIFFE ID of the bundle to show; all when absent");
        CommandSupport.ParseOrThrow(flags, args);
        var format = Format(flags);
        var (channel, client) = AdminClient.Connect(CommandSupport.SocketPath(flags));
        using var _ = channel;
        var response = await client.ListFederatedBundlesAsync(new ListFederatedBundlesRequest(), cancellationToken: ct);
        var wanted = flags.GetString("id") is { } id ? Server.Api.ProtoMapping.NormalizeTrustDomain(id) : null;
        var bundles = response.Bundles.Where(b => wanted is null || b.TrustDomain == wanted).ToList();
        if (CommandSupport.WantsJson(flags))
        {
            var filtered = new ListFederatedBundlesResponse();
            filtered.Bundles.AddRange(bundles);
            await stdout.WriteLineAsync(CommandSupport.ToJson(filtered));
            return 0;
        }

        var text = new StringBuilder();
        foreach (var bundle in bundles)
        {
            text.AppendLine("****************************************");
            text.Append("* spiffe://").AppendLine(bundle.TrustDomain);
            text.AppendLine("****************************************");
            text.AppendLine(Render(bundle, format, json: false));
        }

        await stdout.WriteAsync(text.ToString());
        return 0;
    }

    private static async Task<int> SetAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var flags = CommandSupport.NewFlags("bundle set", output: false)
            .String("id", "SPIFFE ID of the trust domain")
            .String("path", "Path to the bundle data")
            .String("format", "The format of the bundle data (pem, spiffe); default: pem");
        CommandSupport.ParseOrThrow(flags, args);
        var errors = new List<string>();
        var id = flags.GetString("id");
        var path = flags.GetString("path");
        if (string.IsNullOrEmpty(id))
        {
            errors.Add("-id: is required");
        }

        if (string.IsNullOrEmpty(path))
        {
            errors.Add("-path: is required");
        }

        if (errors.Count > 0)
        {
            throw new CliException(string.Join("; ", errors));
        }

        var format = Format(flags);
        string text;
        try
        {
            text = await File.ReadAllTextAsync(path!, ct);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"-path: cannot read \"{path}\": {e.Message}", e);
        }

        Bundle bundle;
        try
        {
            if (format == "spiffe")
            {
                bundle = SpiffeBundleFormat.Read(text);
            }
            else
            {
                bundle = new Bundle();
                bundle.X509Authorities.AddRange(Pem.DecodeCertificates(text).Select(c => ByteString.CopyFrom(c.RawData)));
            }
        }
        catch (Exception e) when (e is FormatException or CryptographicException or System.Text.Json.JsonException or ArgumentException)
        {
            throw new CliException($"-path: \"{path}\" is not a {format} bundle: {e.Message}", e);
        }

        bundle.TrustDomain = Server.Api.ProtoMapping.NormalizeTrustDomain(id!);
        var (channel, client) = AdminClient.Connect(CommandSupport.SocketPath(flags));
        using var _ = channel;
        await client.SetFederatedBundleAsync(bundle, cancellationToken: ct);
        await stdout.WriteLineAsync("bundle set.");
        return 0;
    }

    private static async Task<int> DeleteAsync(IReadOnlyList<string> args, TextWriter stdout, CancellationToken ct)
    {
        var flags = CommandSupport.NewFlags("bundle delete", output: false).String("id", "SPIFFE ID of the trust domain");
        CommandSupport.ParseOrThrow(flags, args);
        var id = flags.GetString("id");
        if (string.IsNullOrEmpty(id))
        {
            throw new CliException("-id: is required");
        }

        var (channel, client) = AdminClient.Connect(CommandSupport.SocketPath(flags));
        using var _ = channel;
        await client.DeleteFederatedBundleAsync(new DeleteFederatedBundleRequest { TrustDomain = id }, cancellationToken: ct);
        await stdout.WriteLineAsync("bundle deleted.");
        return 0;
    }

    private static string Format(FlagSet flags) => flags.GetString("format") switch
    {
        null or "pem" => "pem",
        "spiffe" => "spiffe",
        var other => throw new CliException($"-format: unknown format \"{other}\" (pem, spiffe)"),
    };

    private static string Render(Bundle bundle, string format, bool json)
    {
        if (json)
        {
            return CommandSupport.ToJson(bundle) + Environment.NewLine;
        }

        if (format == "spiffe")
        {
            return SpiffeBundleFormat.Write(bundle) + Environment.NewLine;
        }

        var certificates = bundle.X509Authorities.Select(der => X509CertificateLoader.LoadCertificate(der.Span)).ToList();
        try
        {
            return Pem.EncodeCertificates(certificates);
        }
        finally
        {
            certificates.ForEach(c => c.Dispose());
        }
    }
}
