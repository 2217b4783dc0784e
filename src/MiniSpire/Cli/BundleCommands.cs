using System.CommandLine;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Google.Protobuf;
using MiniSpire.Proto;
using Spiffe.X509;

namespace MiniSpire.Cli;

/// <summary><c>minispire server bundle show|list|count|set|delete</c>, as <c>spire-server bundle ...</c>.</summary>
internal static class BundleCommands
{
    public static Command Build()
    {
        var bundle = new Command("bundle", "The server's trust bundle and federated bundles");
        bundle.Subcommands.Add(Show());
        bundle.Subcommands.Add(List());
        bundle.Subcommands.Add(Count());
        bundle.Subcommands.Add(Set());
        bundle.Subcommands.Add(Delete());
        return bundle;
    }

    private static Option<string> FormatOption(string description) =>
        CommandSupport.String("-format", description, "pem").AcceptOnlyFromAmong("pem", "spiffe");

    private static Command Show()
    {
        var socket = CommandSupport.ServerSocket();
        var output = CommandSupport.Output();
        var format = FormatOption("The format to show the bundle (only pretty output format supports this flag). Either \"pem\" or \"spiffe\".");
        var command = CommandSupport.Command("show", "Prints server CA bundle to stdout", socket, output, format);
        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            var bundle = await client.GetBundleAsync(new GetServerBundleRequest(), cancellationToken: ct);
            await stdout.WriteAsync(Render(bundle, result.GetValue(format)!, CommandSupport.WantsJson(result, output)));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command List()
    {
        var socket = CommandSupport.ServerSocket();
        var output = CommandSupport.Output();
        var format = FormatOption("The format to list federated bundles (only pretty output format supports this flag). Either \"pem\" or \"spiffe\".");
        var id = CommandSupport.String("-id", "SPIFFE ID of the trust domain");
        var command = CommandSupport.Command("list", "Lists federated bundle data", socket, output, format, id);
        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            var response = await client.ListFederatedBundlesAsync(new ListFederatedBundlesRequest(), cancellationToken: ct);
            var wanted = result.GetValue(id) is { } trustDomain ? Server.Api.ProtoMapping.NormalizeTrustDomain(trustDomain) : null;
            var bundles = response.Bundles.Where(b => wanted is null || b.TrustDomain == wanted).ToList();
            if (wanted is not null && bundles.Count == 0)
            {
                throw new CliException($"no federated bundle for trust domain \"{wanted}\"", ExitCodes.NotFound);
            }

            if (CommandSupport.WantsJson(result, output))
            {
                var filtered = new ListFederatedBundlesResponse();
                filtered.Bundles.AddRange(bundles);
                await stdout.WriteLineAsync(CommandSupport.ToJson(filtered));
                return ExitCodes.Success;
            }

            var text = new StringBuilder();
            foreach (var bundle in bundles)
            {
                text.AppendLine("****************************************");
                text.Append("* spiffe://").AppendLine(bundle.TrustDomain);
                text.AppendLine("****************************************");
                text.AppendLine(Render(bundle, result.GetValue(format)!, json: false));
            }

            await stdout.WriteAsync(text.ToString());
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Count()
    {
        var socket = CommandSupport.ServerSocket();
        var output = CommandSupport.Output();
        var command = CommandSupport.Command("count", "Count bundles (the server's own and the federated ones)", socket, output);
        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            // As SPIRE's CountBundles: every bundle the datastore holds, the server's own included.
            var count = (await client.ListFederatedBundlesAsync(new ListFederatedBundlesRequest(), cancellationToken: ct)).Bundles.Count + 1;
            await stdout.WriteLineAsync(CommandSupport.WantsJson(result, output) ? $"{{\"count\": {count}}}" : CommandSupport.Count(count, string.Empty, "bundle", "bundles"));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Set()
    {
        var socket = CommandSupport.ServerSocket();
        var id = CommandSupport.String("-id", "SPIFFE ID of the trust domain");
        var path = CommandSupport.String("-path", "Path to the bundle data");
        var format = FormatOption("The format of the bundle data. Either \"pem\" or \"spiffe\".");
        var command = CommandSupport.Command("set", "Creates or updates federated bundle data", socket, id, path, format);
        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            var errors = new List<string>();
            var trustDomain = result.GetValue(id);
            var file = result.GetValue(path);
            if (string.IsNullOrEmpty(trustDomain))
            {
                errors.Add("-id: is required");
            }

            if (string.IsNullOrEmpty(file))
            {
                errors.Add("-path: is required");
            }

            CommandSupport.ThrowIfAny(errors);
            var bundleFormat = result.GetValue(format)!;
            string text;
            try
            {
                text = await File.ReadAllTextAsync(file!, ct);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"-path: cannot read \"{file}\": {e.Message}", e);
            }

            Bundle bundle;
            try
            {
                if (bundleFormat == "spiffe")
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
                throw new CliException($"-path: \"{file}\" is not a {bundleFormat} bundle: {e.Message}", e);
            }

            bundle.TrustDomain = Server.Api.ProtoMapping.NormalizeTrustDomain(trustDomain!);
            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            await client.SetFederatedBundleAsync(bundle, cancellationToken: ct);
            await stdout.WriteLineAsync("bundle set.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Delete()
    {
        var socket = CommandSupport.ServerSocket();
        var id = CommandSupport.String("-id", "SPIFFE ID of the trust domain");
        var command = CommandSupport.Command("delete", "Deletes federated bundle data", socket, id);
        command.SetRun(r => new Endpoint("server", r.GetValue(socket)!), async (result, stdout, stderr, ct) =>
        {
            var trustDomain = CommandSupport.Required(result, id);
            var (channel, client) = AdminClient.Connect(result.GetValue(socket)!);
            using var _ = channel;
            await client.DeleteFederatedBundleAsync(new DeleteFederatedBundleRequest { TrustDomain = trustDomain }, cancellationToken: ct);
            await stdout.WriteLineAsync("bundle deleted.");
            return ExitCodes.Success;
        });
        return command;
    }

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
