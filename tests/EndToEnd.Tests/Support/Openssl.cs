using Spiffe.Testing;

namespace EndToEnd.Tests.Support;

/// <summary>What openssl says about a certificate.</summary>
internal sealed record CertificateFacts(string Serial, string NotAfter, string SubjectAltName);

/// <summary>openssl, as an operator would run it on the helper's files and on a server.</summary>
internal static class Openssl
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Serial, notAfter and SAN of the first certificate in a PEM file; null when it does not parse.</summary>
    public static async Task<CertificateFacts?> FactsAsync(string pemFile)
    {
        var result = await ProcessRunner.RunAsync("openssl", ["x509", "-in", pemFile, "-noout", "-serial", "-enddate", "-ext", "subjectAltName"], Timeout);
        return result.ExitCode == 0 ? Parse(result.StandardOutput) : null;
    }

    /// <summary>
    /// The certificate a TLS server presents, fetched with <c>openssl s_client</c> (client certificate given,
    /// chain verified against <paramref name="caFile"/>, failing on a verification error).
    /// </summary>
    public static async Task<CertificateFacts?> ServedAsync(int port, string caFile, string clientCert, string clientKey)
    {
        var script = $"openssl s_client -connect 127.0.0.1:{port} -CAfile '{caFile}' -cert '{clientCert}' -key '{clientKey}' -verify_return_error </dev/null 2>/dev/null"
            + " | openssl x509 -noout -serial -enddate -ext subjectAltName";
        var result = await ProcessRunner.RunAsync("bash", ["-o", "pipefail", "-c", script], Timeout);
        return result.ExitCode == 0 ? Parse(result.StandardOutput) : null;
    }

    /// <summary><c>openssl verify</c> of the chain against the bundle, and the key's public key equal to the certificate's.</summary>
    public static async Task AssertChainAndKeyAsync(string certDir, string expectedSpiffeId)
    {
        var svid = Path.Combine(certDir, "svid.pem");
        var verify = await ProcessRunner.RunAsync("openssl", ["verify", "-CAfile", Path.Combine(certDir, "bundle.pem"), svid], Timeout);
        Assert.True(verify.ExitCode == 0, verify.ToString());
        var facts = await FactsAsync(svid);
        Assert.NotNull(facts);
        Assert.Contains("URI:" + expectedSpiffeId, facts.SubjectAltName, StringComparison.Ordinal);
        var certificateKey = await ProcessRunner.RunAsync("openssl", ["x509", "-in", svid, "-noout", "-pubkey"], Timeout);
        var privateKey = await ProcessRunner.RunAsync("openssl", ["pkey", "-in", Path.Combine(certDir, "svid_key.pem"), "-pubout"], Timeout);
        Assert.Equal(certificateKey.StandardOutput, privateKey.StandardOutput);
    }

    private static CertificateFacts Parse(string output)
    {
        var lines = output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var serial = lines.First(l => l.StartsWith("serial=", StringComparison.Ordinal))["serial=".Length..];
        var notAfter = lines.First(l => l.StartsWith("notAfter=", StringComparison.Ordinal))["notAfter=".Length..];
        var san = string.Join(' ', lines.SkipWhile(l => !l.StartsWith("X509v3 Subject Alternative Name", StringComparison.Ordinal)).Skip(1));
        return new CertificateFacts(serial, notAfter, san);
    }
}
