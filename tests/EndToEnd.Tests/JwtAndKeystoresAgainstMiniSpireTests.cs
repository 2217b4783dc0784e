using System.Diagnostics;
using System.Text.Json;
using Spiffe.Testing;
using EndToEnd.Tests.Support;

namespace EndToEnd.Tests;

/// <summary>
/// The published Native AOT spiffe-helper's JWT, PKCS#12, combined and per-trust-domain outputs against
/// MiniSpire server and agent processes, each file checked by an independent tool: Node's crypto for
/// the JWT signatures, openssl and Java's keytool for the keystores, openssl for the PEM files.
/// </summary>
public sealed class JwtAndKeystoresAgainstMiniSpireTests : IAsyncLifetime
{
    private const string StorePassword = "e2e-store-password";

    /// <summary>Verifies a compact JWS with the key its kid names in a JWKS file, using only Node's own crypto.</summary>
    private const string VerifyJwtScript = """
        const fs = require('fs');
        const crypto = require('crypto');
        const [jwksPath, tokenPath] = process.argv.slice(2);
        const jwks = JSON.parse(fs.readFileSync(jwksPath, 'utf8'));
        const token = fs.readFileSync(tokenPath, 'utf8');
        const [h, p, s] = token.split('.');
        const header = JSON.parse(Buffer.from(h, 'base64url').toString());
        const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
        const jwk = jwks.keys.find(k => k.kid === header.kid);
        if (!jwk) { console.error('no key with kid ' + header.kid); process.exit(2); }
        const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
        const hash = 'sha' + header.alg.slice(2);
        const options = header.alg.startsWith('ES') ? { key, dsaEncoding: 'ieee-p1363' }
          : header.alg.startsWith('PS') ? { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST }
          : key;
        const ok = crypto.verify(hash, Buffer.from(h + '.' + p), options, Buffer.from(s, 'base64url'));
        console.log(JSON.stringify({ ok, sub: claims.sub, aud: [].concat(claims.aud), exp: claims.exp }));
        process.exit(ok ? 0 : 1);
        """;

    private static readonly string MiniSpireDll = Path.Combine(AppContext.BaseDirectory, "minispire.dll");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    private LocalMiniSpire _stack = null!;
    private string _certs = null!;

    public async Task InitializeAsync()
    {
        _stack = await LocalMiniSpire.StartAsync(MiniSpireDll);
        _certs = Path.Combine(_stack.Root, "certs");
        Directory.CreateDirectory(_certs);
        await File.WriteAllTextAsync(Path.Combine(_stack.Root, "verify-jwt.js"), VerifyJwtScript);
    }

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task DaemonMode_ShortJwtTtl_TokensVerifyWithTheWrittenBundleAndAreRefreshedBeforeExpiry()
    {
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{Identity.Uid()}", "-jwtSVIDTTL", "10");
        var config = await WriteConfigAsync("""
            jwt_svids = [{ jwt_audience = "api", jwt_extra_audiences = ["audit"], jwt_svid_file_name = "api.token" }]
            jwt_bundle_file_name = "jwt_bundle.json"
            """);
        using var helper = Processes.StartHelper(config);
        var tokens = new List<(string Token, long Expiry)>();
        try
        {
            var deadline = DateTime.UtcNow + Timeout;
            while (tokens.Count < 3)
            {
                Assert.False(helper.HasExited, "spiffe-helper exited");
                Assert.True(DateTime.UtcNow < deadline, $"saw {tokens.Count} distinct JWT-SVID(s) in {Timeout}");
                var token = File.Exists(Path.Combine(_certs, "api.token")) ? await File.ReadAllTextAsync(Path.Combine(_certs, "api.token")) : null;
                if (token is not null && (tokens.Count == 0 || tokens[^1].Token != token))
                {
                    // The Go-format bundle file: trust domain -> base64 of its JWKS; Node verifies with the key it holds.
                    var bundle = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_certs, "jwt_bundle.json")));
                    var jwks = Path.Combine(_stack.Root, "jwks.json");
                    await File.WriteAllBytesAsync(jwks, Convert.FromBase64String(bundle.RootElement.GetProperty("example.org").GetString()!));
                    var claims = await VerifyWithNodeAsync(jwks, Path.Combine(_certs, "api.token"));
                    var expiry = claims.GetProperty("exp").GetInt64();
                    if (tokens.Count > 0)
                    {
                        Assert.True(DateTimeOffset.UtcNow.ToUnixTimeSeconds() < tokens[^1].Expiry, "the previous token expired before it was replaced");
                    }

                    tokens.Add((token, expiry));
                }

                await Task.Delay(100);
            }
        }
        finally
        {
            helper.Kill(entireProcessTree: true);
            await helper.WaitForExitAsync();
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_certs, "api.token")));
    }

    [Fact]
    public async Task OneShot_KeystoresCombinedFilePerDomainBundlesAndJwks_OpenWithOpensslKeytoolAndNode()
    {
        // A federated trust domain: its CA set on the server, federated with by the workload's entry.
        var partnerCa = Path.Combine(_stack.Root, "partner-ca.pem");
        var made = await ProcessRunner.RunAsync(
            "openssl",
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", Path.Combine(_stack.Root, "partner-ca.key"), "-out", partnerCa,
             "-days", "1", "-subj", "/O=partner/CN=partner CA", "-addext", "subjectAltName=URI:spiffe://partner.test", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            Timeout);
        Assert.True(made.ExitCode == 0, made.ToString());
        var set = await _stack.ServerCliAsync("bundle", "set", "-id", "spiffe://partner.test", "-path", partnerCa);
        Assert.True(set.ExitCode == 0, set.ToString());
        await _stack.CreateEntryAsync("spiffe://example.org/web", "-selector", $"unix:uid:{Identity.Uid()}", "-federatesWith", "spiffe://partner.test");
        var passwordFile = Path.Combine(_stack.Root, "store-password");
        await File.WriteAllTextAsync(passwordFile, StorePassword + "\n");
        var config = await WriteConfigAsync($$"""
            daemon_mode = false
            one_shot_timeout = "40s"
            svid_combined_file_name = "credentials.pem"
            trust_bundles_dir_name = "bundles"
            pkcs12_keystore_file_name = "keystore.p12"
            pkcs12_truststore_file_name = "truststore.p12"
            pkcs12_password_file = "{{passwordFile}}"
            jwt_svids = [{ jwt_audience = "${AUDIENCE}", jwt_svid_file_name = "api.token" }]
            jwt_bundle_file_name = "jwks.json"
            jwt_bundle_format = "jwks"
            """);

        var run = await ProcessRunner.RunAsync(PublishedHelperBinary.Get(), ["-config", config], Timeout, environment: new Dictionary<string, string?> { ["AUDIENCE"] = "https://api.example" });

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain(StorePassword, run.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain(await File.ReadAllTextAsync(Path.Combine(_certs, "api.token")), run.StandardError, StringComparison.Ordinal);

        // JWT: Node verifies the token with the plain JWKS the helper wrote.
        var claims = await VerifyWithNodeAsync(Path.Combine(_certs, "jwks.json"), Path.Combine(_certs, "api.token"));
        Assert.Equal("spiffe://example.org/web", claims.GetProperty("sub").GetString());
        Assert.Contains("https://api.example", claims.GetProperty("aud").EnumerateArray().Select(a => a.GetString()));

        // Combined file: openssl reads the key first, then the chain, and they match.
        var combined = Path.Combine(_certs, "credentials.pem");
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", await File.ReadAllTextAsync(combined), StringComparison.Ordinal);
        var certificateKey = await RunOkAsync("openssl", "x509", "-in", combined, "-noout", "-pubkey");
        var privateKey = await RunOkAsync("openssl", "pkey", "-in", combined, "-pubout");
        Assert.Equal(certificateKey, privateKey);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_certs, "..data", "credentials.pem")));

        // Per-trust-domain bundles: each domain's CAs alone; the leaf verifies only against its own.
        var own = Path.Combine(_certs, "bundles", "example.org.pem");
        var partner = Path.Combine(_certs, "bundles", "partner.test.pem");
        Assert.True(File.Exists(partner), "bundles/: " + string.Join(", ", Directory.EnumerateFiles(Path.Combine(_certs, "bundles")).Select(Path.GetFileName)) + "\n" + run.StandardError);
        Assert.Equal(await FingerprintAsync(partnerCa), await FingerprintAsync(partner));
        Assert.Equal(await FingerprintAsync(Path.Combine(_certs, "bundle.pem")), await FingerprintAsync(own));
        await RunOkAsync("openssl", "verify", "-CAfile", own, Path.Combine(_certs, "svid.pem"));
        var wrongDomain = await ProcessRunner.RunAsync("openssl", ["verify", "-CAfile", partner, Path.Combine(_certs, "svid.pem")], Timeout);
        Assert.NotEqual(0, wrongDomain.ExitCode);

        // Keystore: openssl and keytool open it with the password; one PrivateKeyEntry named by the SPIFFE ID.
        var keystore = Path.Combine(_certs, "keystore.p12");
        var opensslKeystore = await RunOkAsync("openssl", "pkcs12", "-in", keystore, "-passin", "pass:" + StorePassword, "-nodes");
        Assert.Contains("friendlyName: spiffe://example.org/web", opensslKeystore, StringComparison.Ordinal);
        Assert.Contains("-----BEGIN PRIVATE KEY-----", opensslKeystore, StringComparison.Ordinal);
        var keytoolKeystore = await RunOkAsync("keytool", "-list", "-v", "-storetype", "PKCS12", "-keystore", keystore, "-storepass", StorePassword);
        Assert.Contains("Your keystore contains 1 entry", keytoolKeystore, StringComparison.Ordinal);
        Assert.Contains("Alias name: spiffe://example.org/web", keytoolKeystore, StringComparison.Ordinal);
        Assert.Contains("Entry type: PrivateKeyEntry", keytoolKeystore, StringComparison.Ordinal);
        var wrongPassword = await ProcessRunner.RunAsync("keytool", ["-list", "-storetype", "PKCS12", "-keystore", keystore, "-storepass", "not-the-password"], Timeout);
        Assert.NotEqual(0, wrongPassword.ExitCode);

        // Truststore: keytool lists the bundle's CA as a trustedCertEntry (the Java trusted-key-usage attribute is there).
        var truststore = Path.Combine(_certs, "truststore.p12");
        var keytoolTruststore = await RunOkAsync("keytool", "-list", "-v", "-storetype", "PKCS12", "-keystore", truststore, "-storepass", StorePassword);
        Assert.Contains("Entry type: trustedCertEntry", keytoolTruststore, StringComparison.Ordinal);
        Assert.Contains("Alias name: example.org ca 1", keytoolTruststore, StringComparison.Ordinal);
        var bundleFingerprint = (await FingerprintAsync(Path.Combine(_certs, "bundle.pem"), "-sha256")).Split('=', 2)[1];
        Assert.Contains(bundleFingerprint, keytoolTruststore, StringComparison.Ordinal);
        await RunOkAsync("openssl", "pkcs12", "-in", truststore, "-passin", "pass:" + StorePassword, "-nokeys");
    }

    private async Task<JsonElement> VerifyWithNodeAsync(string jwksPath, string tokenPath)
    {
        var result = await ProcessRunner.RunAsync("node", [Path.Combine(_stack.Root, "verify-jwt.js"), jwksPath, tokenPath], Timeout);
        Assert.True(result.ExitCode == 0, "Node could not verify the JWT-SVID with the JWKS: " + result);
        var claims = JsonDocument.Parse(result.StandardOutput).RootElement;
        Assert.Equal("spiffe://example.org/web", claims.GetProperty("sub").GetString());
        return claims;
    }

    private static async Task<string> RunOkAsync(string file, params string[] args)
    {
        var result = await ProcessRunner.RunAsync(file, args, Timeout);
        Assert.True(result.ExitCode == 0, $"{file} {string.Join(' ', args)}: {result}");
        return result.StandardOutput;
    }

    private static async Task<string> FingerprintAsync(string pem, string digest = "-sha1") =>
        (await RunOkAsync("openssl", "x509", "-in", pem, "-noout", "-fingerprint", digest)).Trim();

    private async Task<string> WriteConfigAsync(string more)
    {
        var path = Path.Combine(_stack.Root, "helper.conf");
        await File.WriteAllTextAsync(path, $"""
            agent_address = "unix://{_stack.AgentSocket}"
            cert_dir = "{_certs}"
            svid_file_name = "svid.pem"
            svid_key_file_name = "svid_key.pem"
            svid_bundle_file_name = "bundle.pem"
            {more}
            """);
        return path;
    }
}
