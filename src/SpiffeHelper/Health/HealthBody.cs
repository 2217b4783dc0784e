using System.Text.Encodings.Web;
using System.Text.Json;
using SpiffeHelper.Logging;

namespace SpiffeHelper.Health;

/// <summary>Which of the reported outputs are the X.509 files, and the cert_dir the JWT file paths are joined to.</summary>
internal sealed record HealthOutputs(IReadOnlyCollection<string> X509FileNames, string CertDir);

/// <summary>
/// The JSON body of <c>/live</c> and <c>/ready</c>. First the Go spiffe-helper's body exactly as it writes it
/// (<c>pkg/health/health.go</c>, <c>pkg/sidecar/sidecar.go</c>): <c>status</c> is Go's status text ("OK",
/// "Service Unavailable"); <c>health.file_write_statuses.x509_write_status</c> (absent without X.509 output)
/// and <c>jwt_write_status</c> (keyed by cert_dir joined with the file name) hold "unwritten", "written" or
/// "failed". Then this helper's own view in a separate <c>spiffe_helper</c> object: live, ready, the reason,
/// the SVID's expiry and the status of every file by name, with our finer statuses.
/// </summary>
internal static class HealthBody
{
    public const string Unwritten = "unwritten";
    public const string Written = "written";
    public const string Failed = "failed";

    private static readonly JsonWriterOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The Go tool's status of one output from ours: a failed write is "failed"; anything not yet written by the latest attempt (also a rejected update, which the Go tool has no name for) is "unwritten".</summary>
    public static string GoStatus(string status) => status switch
    {
        "written" => Written,
        "write_failed" => Failed,
        _ => Unwritten,
    };

    /// <summary>The Go tool's x509_write_status: one value for all X.509 files.</summary>
    public static string GoX509Status(IEnumerable<string> statuses)
    {
        var go = statuses.Select(GoStatus).ToList();
        return go.Contains(Failed) ? Failed : go.All(s => s == Written) ? Written : Unwritten;
    }

    public static byte[] Write(bool ok, HealthReport report, HealthOutputs? outputs)
    {
        var x509Names = outputs?.X509FileNames ?? report.FileWriteStatuses.Keys.ToList();
        var certDir = outputs?.CertDir ?? string.Empty;
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, Options))
        {
            json.WriteStartObject();
            json.WriteString("status", ok ? "OK" : "Service Unavailable");
            json.WriteStartObject("health");
            json.WriteStartObject("file_write_statuses");
            var x509 = report.FileWriteStatuses.Where(s => x509Names.Contains(s.Key)).Select(s => s.Value).ToList();
            if (x509.Count > 0)
            {
                json.WriteString("x509_write_status", GoX509Status(x509));
            }

            json.WriteStartObject("jwt_write_status");
            foreach (var (name, status) in report.FileWriteStatuses.Where(s => !x509Names.Contains(s.Key)).OrderBy(s => JoinPath(certDir, s.Key), StringComparer.Ordinal))
            {
                json.WriteString(JoinPath(certDir, name), GoStatus(status));
            }

            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndObject();

            // Ours, apart from the Go tool's fields so that neither shape constrains the other.
            json.WriteStartObject("spiffe_helper");
            json.WriteBoolean("live", report.Live);
            json.WriteBoolean("ready", report.Ready);
            if (report.Reason is not null)
            {
                json.WriteString("reason", report.Reason);
            }

            if (report.SvidNotAfter is { } notAfter)
            {
                json.WriteString("svid_not_after", Rfc3339.Format(notAfter));
            }

            if (report.LastRefusedUpdate is { } refused)
            {
                // The latest X.509 update refused since the last write: {"reason": one of RefusalReasons, "message", "at"}.
                json.WriteStartObject("last_refused_update");
                json.WriteString("reason", refused.Reason);
                json.WriteString("message", refused.Message);
                json.WriteString("at", Rfc3339.Format(refused.At));
                json.WriteEndObject();
            }

            json.WriteStartObject("files");
            foreach (var (name, status) in report.FileWriteStatuses)
            {
                json.WriteString(name, status);
            }

            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>Go's <c>path.Join(cert_dir, name)</c> for the absolute cert_dir this helper holds.</summary>
    private static string JoinPath(string certDir, string name) =>
        certDir.Length == 0 ? name : certDir.TrimEnd('/') + "/" + name;
}
