using System.Diagnostics;
using System.Formats.Asn1;
using System.Globalization;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Bench.Shared;
using Grpc.Core;
using Grpc.Net.Client;
using Spiffe.WorkloadApi.Proto;

// The library floors of the helper's benchmarks: each mode does one thing the helper cannot avoid, with the
// library the helper uses, and nothing else.
//   fetch SOCKET       one FetchX509SVID call with Grpc.Net.Client over the Unix socket, the first message
//                      read, the call disposed; exits 0 if the agent sent an SVID. The gRPC client's floor.
//   fetch-idle SOCKET  the same call, then prints "ready" and keeps the stream open until SIGTERM, as the
//                      helper's daemon does: its resident memory is the gRPC client's memory floor.
//   x509 PEM           loads the first certificate of PEM with X509CertificateLoader and reads its validity:
//                      OpenSSL loaded and initialised, the floor of any .NET certificate operation on Linux.
//   fetch-x509 SOCKET  both: the call, then the SVID's leaf certificate loaded from the response: the least
//                      any .NET one-shot helper does (the helper also verifies, encodes and writes files).
//   fetch-x509-idle SOCKET  the same, then "ready" and the stream kept open until SIGTERM: the memory floor
//                      of a .NET daemon helper built on these two libraries.
//   svid-crypto DIR N  the cryptography a rotated X509-SVID needs, N times: load the leaf (DIR/leaf.der), import
//                      its PKCS#8 key (DIR/key.der) and compare it with the leaf's public key, verify the leaf's
//                      signature with the authority's key (DIR/authority.der); prints the median microseconds of
//                      each step and of the three together: the OpenSSL floor under the helper's rotation latency.
switch (args)
{
    case ["fetch", var socket]:
        {
            using var channel = Channel(socket);
            using var call = FetchX509Svid(channel);
            return await HasSvidAsync(call) ? 0 : 1;
        }

    case ["fetch-idle", var socket]:
        {
            using var channel = Channel(socket);
            using var call = FetchX509Svid(channel);
            if (!await HasSvidAsync(call))
            {
                return 1;
            }

            SigtermWait.AfterReady(Console.Out, "ready");
            return 0;
        }

    case ["x509", var pem]:
        return LoadCertificate(pem) ? 0 : 1;

    case ["fetch-x509", var socket]:
        {
            using var channel = Channel(socket);
            using var call = FetchX509Svid(channel);
            return await HasSvidAsync(call) && LoadLeaf(call.ResponseStream.Current) ? 0 : 1;
        }

    case ["fetch-x509-idle", var socket]:
        {
            using var channel = Channel(socket);
            using var call = FetchX509Svid(channel);
            if (!await HasSvidAsync(call) || !LoadLeaf(call.ResponseStream.Current))
            {
                return 1;
            }

            SigtermWait.AfterReady(Console.Out, "ready");
            return 0;
        }

    case ["svid-crypto", var directory, var count]:
        {
            var leafDer = File.ReadAllBytes(Path.Combine(directory, "leaf.der"));
            var keyPkcs8 = File.ReadAllBytes(Path.Combine(directory, "key.der"));
            using var authority = X509CertificateLoader.LoadCertificate(File.ReadAllBytes(Path.Combine(directory, "authority.der")));
            var runs = int.Parse(count, CultureInfo.InvariantCulture);
            var load = new double[runs];
            var import = new double[runs];
            var verify = new double[runs];
            var total = new double[runs];
            for (var i = 0; i < runs; i++)
            {
                var start = Stopwatch.GetTimestamp();
                using var leaf = X509CertificateLoader.LoadCertificate(leafDer);
                var loaded = Stopwatch.GetTimestamp();
                using var key = ECDsa.Create();
                key.ImportPkcs8PrivateKey(keyPkcs8, out _);
                using var leafPublic = leaf.GetECDsaPublicKey() ?? throw new InvalidOperationException("the leaf has no EC key");
                if (!leafPublic.ExportParameters(false).Q.X.AsSpan().SequenceEqual(key.ExportParameters(false).Q.X))
                {
                    throw new InvalidOperationException("the key does not match the leaf");
                }

                var imported = Stopwatch.GetTimestamp();
                var (signed, signature) = SignedPartAndSignature(leaf.RawData);
                using var authorityKey = authority.GetECDsaPublicKey() ?? throw new InvalidOperationException("the authority has no EC key");
                if (!authorityKey.VerifyData(signed, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence))
                {
                    throw new InvalidOperationException("the leaf's signature does not verify");
                }

                var verified = Stopwatch.GetTimestamp();
                load[i] = Stopwatch.GetElapsedTime(start, loaded).TotalMicroseconds;
                import[i] = Stopwatch.GetElapsedTime(loaded, imported).TotalMicroseconds;
                verify[i] = Stopwatch.GetElapsedTime(imported, verified).TotalMicroseconds;
                total[i] = Stopwatch.GetElapsedTime(start, verified).TotalMicroseconds;
            }

            Console.Out.WriteLine(string.Join(' ', new[] { load, import, verify, total }.Select(Median).Select(v => v.ToString("0.0", CultureInfo.InvariantCulture))));
            return 0;
        }

    default:
        Console.Error.WriteLine("usage: bench-reference-client fetch SOCKET | fetch-idle SOCKET | x509 PEM | fetch-x509 SOCKET | fetch-x509-idle SOCKET | svid-crypto DIR N");
        return 2;
}

static GrpcChannel Channel(string socketPath)
{
    var endPoint = new UnixDomainSocketEndPoint(socketPath);
    var handler = new SocketsHttpHandler
    {
        ConnectCallback = async (_, cancellationToken) =>
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(endPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    // The host name is never resolved: the callback above connects to the socket.
    return GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler, DisposeHttpClient = true });
}

static AsyncServerStreamingCall<X509SVIDResponse> FetchX509Svid(GrpcChannel channel) =>
    new SpiffeWorkloadAPI.SpiffeWorkloadAPIClient(channel).FetchX509SVID(
        new X509SVIDRequest(),
        new CallOptions(headers: new Metadata { { "workload.spiffe.io", "true" } }));

static async Task<bool> HasSvidAsync(AsyncServerStreamingCall<X509SVIDResponse> call)
{
    if (!await call.ResponseStream.MoveNext(CancellationToken.None))
    {
        Console.Error.WriteLine("bench-reference-client: the stream ended before its first message");
        return false;
    }

    var response = call.ResponseStream.Current;
    if (response.Svids.Count == 0 || response.Svids[0].X509Svid.IsEmpty)
    {
        Console.Error.WriteLine("bench-reference-client: the first X509SVIDResponse has no SVID");
        return false;
    }

    return true;
}

static bool LoadCertificate(string path)
{
    var text = File.ReadAllText(path, Encoding.ASCII);
    if (!PemEncoding.TryFind(text, out var fields) || !text.AsSpan(fields.Label).SequenceEqual("CERTIFICATE"))
    {
        Console.Error.WriteLine($"bench-reference-client: {path} holds no PEM CERTIFICATE");
        return false;
    }

    using var certificate = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(text[fields.Base64Data]));
    return certificate.NotAfter > certificate.NotBefore;
}

// x509_svid is the DER certificates of the chain back to back, the leaf first.
static bool LoadLeaf(X509SVIDResponse response)
{
    var chain = response.Svids[0].X509Svid.Span;
    AsnDecoder.ReadEncodedValue(chain, AsnEncodingRules.DER, out _, out _, out var leafLength);
    using var leaf = X509CertificateLoader.LoadCertificate(chain[..leafLength]);
    return leaf.NotAfter > leaf.NotBefore;
}

static double Median(double[] values)
{
    var sorted = values.Order().ToArray();
    return sorted[sorted.Length / 2];
}

// A certificate is SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }: the signature covers
// the encoded tbsCertificate.
static (byte[] Signed, byte[] Signature) SignedPartAndSignature(byte[] certificate)
{
    var outer = new AsnReader(certificate, AsnEncodingRules.DER).ReadSequence();
    var signed = outer.ReadEncodedValue().ToArray();
    outer.ReadSequence();
    return (signed, outer.ReadBitString(out _));
}
