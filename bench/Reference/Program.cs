using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

// The reference program of the benchmarks, in four modes:
//   write PATH        writes a small file and exits: the floor of a Native AOT one-shot run.
//   idle              prints "ready" and waits for SIGTERM: the floor of a Native AOT daemon's memory.
//   signals PID_FILE  writes its pid to PID_FILE, then prints "<monotonic ticks>" on every SIGUSR1: the
//                     application a helper reloads. Stopwatch ticks are CLOCK_MONOTONIC on Linux, so the
//                     benchmark compares them with its own.
//   svid-crypto DIR N the cryptography a rotated X509-SVID needs, N times: load the leaf (DIR/leaf.der), import
//                     its PKCS#8 key (DIR/key.der) and compare it with the leaf's public key, verify the leaf's
//                     signature with the authority's key (DIR/authority.der); prints the median microseconds of
//                     each step and of the three together: the floor of System.Security.Cryptography (OpenSSL)
//                     under the helper's rotation latency.
switch (args)
{
    case ["write", var path]:
        File.WriteAllText(path, "reference\n");
        return 0;

    case ["idle"]:
        {
            using var stop = new ManualResetEventSlim();
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.Set();
            });
            Console.Out.WriteLine("ready");
            Console.Out.Flush();
            stop.Wait();
            return 0;
        }

    case ["signals", var pidFile]:
        {
            using var stop = new ManualResetEventSlim();
            var output = Console.Out;
            using var usr1 = PosixSignalRegistration.Create((PosixSignal)10, context =>
            {
                var received = Stopwatch.GetTimestamp();
                context.Cancel = true;
                lock (output)
                {
                    output.WriteLine(received.ToString(CultureInfo.InvariantCulture));
                    output.Flush();
                }
            });
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
            {
                context.Cancel = true;
                stop.Set();
            });
            File.WriteAllText(pidFile, Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            output.WriteLine("ready " + Stopwatch.Frequency.ToString(CultureInfo.InvariantCulture));
            output.Flush();
            stop.Wait();
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
        Console.Error.WriteLine("usage: bench-reference write PATH | idle | signals PID_FILE | svid-crypto DIR N");
        return 2;
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
    var outer = new System.Formats.Asn1.AsnReader(certificate, System.Formats.Asn1.AsnEncodingRules.DER).ReadSequence();
    var signed = outer.ReadEncodedValue().ToArray();
    outer.ReadSequence();
    return (signed, outer.ReadBitString(out _));
}
