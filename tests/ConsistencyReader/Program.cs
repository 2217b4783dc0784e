using System.Diagnostics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

// consistency-reader <cert_dir> <svid file> <key file> <pair|each> <seconds>
//
// Reads the certificate and the key through their visible names every millisecond or so, as an
// application would, and checks what the write strategy promises:
//   pair: (atomic_dir) the two files always parse and always belong together. A read is taken as a
//         pair only when the ..data link named the same generation before and after it; a read that
//         straddled a switch is retried and counted as "straddled", not judged.
//   each: (rename) every file always parses: never empty, never half written. Cert and key are
//         switched one after the other, so a mismatched pair is possible and only counted.
// Prints one summary line and exits 0 when nothing failed, 1 otherwise.
if (args.Length != 5 || args[3] is not ("pair" or "each") || !double.TryParse(args[4], System.Globalization.CultureInfo.InvariantCulture, out var seconds))
{
    Console.Error.WriteLine("usage: consistency-reader <cert_dir> <svid file> <key file> <pair|each> <seconds>");
    return 2;
}

var directory = args[0];
var certPath = Path.Combine(directory, args[1]);
var keyPath = Path.Combine(directory, args[2]);
var pairMode = args[3] == "pair";
var dataLink = Path.Combine(directory, "..data");

long reads = 0, failures = 0, straddled = 0, mismatched = 0;
var serials = new HashSet<string>(StringComparer.Ordinal);
string? firstFailure = null;
var clock = Stopwatch.StartNew();
while (clock.Elapsed.TotalSeconds < seconds)
{
    var generationBefore = pairMode ? new FileInfo(dataLink).LinkTarget : null;
    string certPem;
    string keyPem;
    try
    {
        certPem = File.ReadAllText(certPath);
        keyPem = File.ReadAllText(keyPath);
    }
    catch (FileNotFoundException) when (reads == 0 && failures == 0)
    {
        // The helper has not written yet.
        Thread.Sleep(5);
        continue;
    }

    if (pairMode && new FileInfo(dataLink).LinkTarget != generationBefore)
    {
        straddled++;
        continue;
    }

    reads++;
    var problem = Check(certPem, keyPem, out var serial, out var matches);
    if (problem is not null || (pairMode && !matches))
    {
        failures++;
        firstFailure ??= problem ?? $"certificate {serial} and the key do not match";
    }
    else if (!matches)
    {
        mismatched++;
    }

    if (serial is not null)
    {
        serials.Add(serial);
    }

    Thread.Sleep(1);
}

Console.WriteLine($"reads={reads} failures={failures} straddled={straddled} mismatched={mismatched} certificates={serials.Count} first_failure={firstFailure ?? "none"}");
return failures == 0 ? 0 : 1;

// Both files must parse completely; returns what is wrong, or null.
static string? Check(string certPem, string keyPem, out string? serial, out bool matches)
{
    serial = null;
    matches = false;
    X509Certificate2 certificate;
    try
    {
        certificate = X509Certificate2.CreateFromPem(certPem);
    }
    catch (CryptographicException e)
    {
        return $"the certificate file does not parse ({certPem.Length} chars): {e.Message}";
    }

    using (certificate)
    {
        serial = certificate.SerialNumber;
        using var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(keyPem);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            return $"the key file does not parse ({keyPem.Length} chars): {e.Message}";
        }

        matches = certificate.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo());
        return null;
    }
}
