using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.Pkcs;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Google.Protobuf;
using Spiffe.Testing;
using Spiffe.WorkloadApi;
using Spiffe.WorkloadApi.Proto;
using Spiffe.X509;
using SpiffeHelper.Config;
using SpiffeHelper.Delivery;

namespace SpiffeHelper.Tests.Delivery;

/// <summary>The combined credential file, per-trust-domain bundle files and PKCS#12 stores built with the PEM files.</summary>
public sealed class ExtraFormatsTests : IDisposable
{
    private const string Password = "correct horse";
    private readonly TestCertificateAuthority _ca = TestCertificateAuthority.Create("example.org", withIntermediate: true);
    private readonly TestCertificateAuthority _federated = TestCertificateAuthority.Create("other.org");
    private readonly TempDir _dir = new();

    public void Dispose()
    {
        _ca.Dispose();
        _federated.Dispose();
        _dir.Dispose();
    }

    private static HelperOptions Options(Pkcs12Options? pkcs12 = null, bool includeFederated = false) => CredentialFilesTests.Options(includeFederated: includeFederated) with
    {
        X509 = new X509OutputOptions("svid.pem", "svid_key.pem", "bundle.pem", false, includeFederated)
        {
            CombinedFileName = "credentials.pem",
            TrustBundlesDirName = "bundles",
            Pkcs12 = pkcs12,
        },
    };

    private X509Context Context(TestSvid svid)
    {
        var response = _ca.Response(svid);
        response.FederatedBundles.Add("other.org", ByteString.CopyFrom(_federated.Root.RawData));
        return WorkloadApiResponses.ToX509Context(response);
    }

    private static FileContent File(CredentialFileSet set, string name) => set.Files.Single(f => f.Name == name);

    [Fact]
    public void Build_CombinedFile_HoldsTheKeyFirstThenTheWholeChainWithTheKeyMode()
    {
        var svid = _ca.Issue("/web");
        using var context = Context(svid);

        var set = CredentialFiles.Build(context, Options(), DateTimeOffset.UtcNow);

        var combined = File(set, "credentials.pem");
        var text = Encoding.ASCII.GetString(combined.Bytes);
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", text, StringComparison.Ordinal);
        Assert.Equal(svid.Chain.Select(c => c.Thumbprint), Pem.DecodeCertificates(text).Select(c => c.Thumbprint));
        using var parsed = X509Svid.ParsePem(text, text);
        Assert.Equal(svid.SpiffeId, parsed.Id.ToString());
        Assert.True(combined.IsSecret);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, combined.Mode);
    }

    [Fact]
    public void Build_TrustBundlesDir_OneFilePerTrustDomainNeverMerged()
    {
        using var context = Context(_ca.Issue("/web"));

        var set = CredentialFiles.Build(context, Options(), DateTimeOffset.UtcNow);

        var own = Pem.DecodeCertificates(Encoding.ASCII.GetString(File(set, "bundles/example.org.pem").Bytes));
        var other = Pem.DecodeCertificates(Encoding.ASCII.GetString(File(set, "bundles/other.org.pem").Bytes));
        Assert.Equal(_ca.Root.Thumbprint, Assert.Single(own).Thumbprint);
        Assert.Equal(_federated.Root.Thumbprint, Assert.Single(other).Thumbprint);
        Assert.Equal(_ca.Root.Thumbprint, Assert.Single(Pem.DecodeCertificates(Encoding.ASCII.GetString(File(set, "bundle.pem").Bytes))).Thumbprint);
    }

    [Fact]
    public void Build_Keystore_HoldsTheKeyAndChainUnderTheSpiffeIdAndOpensOnlyWithThePassword()
    {
        var svid = _ca.Issue("/web");
        using var context = Context(svid);

        var set = CredentialFiles.Build(context, Options(new Pkcs12Options("keystore.p12", null, Password, null)), DateTimeOffset.UtcNow);

        var keystore = File(set, "keystore.p12");
        Assert.True(keystore.IsSecret);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, keystore.Mode);
        var loaded = X509CertificateLoader.LoadPkcs12Collection(keystore.Bytes, Password);
        Assert.Equal(svid.Chain.Select(c => c.Thumbprint).Order(), loaded.Select(c => c.Thumbprint).Order());
        var leaf = loaded.Single(c => c.HasPrivateKey);
        Assert.Equal(svid.Leaf.Thumbprint, leaf.Thumbprint);
        Assert.Throws<CryptographicException>(() => X509CertificateLoader.LoadPkcs12Collection(keystore.Bytes, "wrong"));

        var info = Pkcs12Info.Decode(keystore.Bytes, out _);
        Assert.True(info.VerifyMac(Password));
        var names = FriendlyNames(info, Password);
        Assert.Equal(["spiffe://example.org/web", "spiffe://example.org/web"], names);
    }

    [Fact]
    public void Build_Truststore_MarksEveryBundleCaTrustedForJava()
    {
        using var context = Context(_ca.Issue("/web"));

        var set = CredentialFiles.Build(context, Options(new Pkcs12Options(null, "truststore.p12", Password, null), includeFederated: true), DateTimeOffset.UtcNow);

        var truststore = File(set, "truststore.p12");
        Assert.False(truststore.IsSecret);
        var info = Pkcs12Info.Decode(truststore.Bytes, out _);
        Assert.True(info.VerifyMac(Password));
        var contents = Assert.Single(info.AuthenticatedSafe);
        contents.Decrypt(Password);
        var bags = contents.GetBags().OfType<Pkcs12CertBag>().ToList();
        Assert.Equal([_ca.Root.Thumbprint, _federated.Root.Thumbprint], bags.Select(b => b.GetCertificate().Thumbprint));
        foreach (var bag in bags)
        {
            var trusted = Assert.Single(bag.Attributes.Cast<CryptographicAttributeObject>(), a => a.Oid.Value == "2.16.840.1.113894.746875.1.1");
            Assert.Equal("2.5.29.37.0", new AsnReader(trusted.Values[0].RawData, AsnEncodingRules.DER).ReadObjectIdentifier());
        }

        Assert.Equal(["example.org ca 1", "other.org ca 1"], FriendlyNames(info, Password));
    }

    [Fact]
    public void Build_PasswordFile_IsReadAtEveryBuildAndAMissingFileIsARetryableErrorWithoutItsContent()
    {
        var passwordFile = _dir.Combine("password");
        System.IO.File.WriteAllText(passwordFile, "first-password\n");
        using var context = Context(_ca.Issue("/web"));
        var options = Options(new Pkcs12Options("keystore.p12", null, null, passwordFile));

        var first = CredentialFiles.Build(context, options, DateTimeOffset.UtcNow);
        Assert.NotEmpty(X509CertificateLoader.LoadPkcs12Collection(File(first, "keystore.p12").Bytes, "first-password"));

        System.IO.File.Delete(passwordFile);
        var error = Assert.Throws<CredentialException>(() => CredentialFiles.Build(context, options, DateTimeOffset.UtcNow));
        Assert.True(error.Retryable);
        Assert.Contains($"cannot read pkcs12_password_file \"{passwordFile}\"", error.Message, StringComparison.Ordinal);

        System.IO.File.WriteAllText(passwordFile, string.Empty);
        error = Assert.Throws<CredentialException>(() => CredentialFiles.Build(context, options, DateTimeOffset.UtcNow));
        Assert.Contains("is empty", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(nameof(WriteStrategy.AtomicDir))]
    [InlineData(nameof(WriteStrategy.Rename))]
    public void Write_FolderEntries_AreSwitchedWithTheSetAndStaleTrustDomainsDisappear(string strategyName)
    {
        var writer = new FileSetWriter(_dir.Path, Enum.Parse<WriteStrategy>(strategyName), TimeProvider.System);
        var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        writer.Write([new("bundle.pem", [1], mode, false), new("bundles/a.org.pem", [2], mode, false), new("bundles/b.org.pem", [3], mode, false)]);

        writer.Write([new("bundle.pem", [4], mode, false), new("bundles/a.org.pem", [5], mode, false)]);

        Assert.Equal([5], System.IO.File.ReadAllBytes(_dir.Combine("bundles", "a.org.pem")));
        Assert.False(System.IO.File.Exists(_dir.Combine("bundles", "b.org.pem")));
        Assert.Equal(["a.org.pem"], Directory.EnumerateFiles(_dir.Combine("bundles")).Select(Path.GetFileName));
        Assert.Equal(mode, System.IO.File.GetUnixFileMode(_dir.Combine("bundles", "a.org.pem")));
    }

    private static List<string> FriendlyNames(Pkcs12Info info, string password)
    {
        var names = new List<string>();
        foreach (var contents in info.AuthenticatedSafe)
        {
            if (contents.ConfidentialityMode == Pkcs12ConfidentialityMode.Password)
            {
                contents.Decrypt(password);
            }

            foreach (var bag in contents.GetBags())
            {
                foreach (var attribute in bag.Attributes.Cast<CryptographicAttributeObject>().Where(a => a.Oid.Value == "1.2.840.113549.1.9.20"))
                {
                    names.Add(new AsnReader(attribute.Values[0].RawData, AsnEncodingRules.DER).ReadCharacterString(UniversalTagNumber.BMPString));
                }
            }
        }

        return names;
    }
}
