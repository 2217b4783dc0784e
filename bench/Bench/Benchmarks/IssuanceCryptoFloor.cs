using System.Diagnostics;
using System.Formats.Asn1;
using System.Security.Cryptography;

namespace Bench.Benchmarks;

/// <summary>
/// The least System.Security.Cryptography work one X509-SVID needs, measured alone: import the CSR's public
/// key, verify the CSR's signature with it, sign a certificate-sized TBS with the CA key. MiniSpire cannot
/// issue faster than this on the same cores, whatever else it does; on Linux every one of these calls is
/// OpenSSL's work.
/// </summary>
internal static class IssuanceCryptoFloor
{
    /// <summary>About the size of an SVID's to-be-signed certificate.</summary>
    private const int TbsLength = 450;

    public sealed record Figures(double ImportMicroseconds, double VerifyMicroseconds, double SignMicroseconds, double AllCoresPerSecond);

    public static Figures Measure(IReadOnlyList<byte[]> csrs, TimeSpan duration)
    {
        var parts = csrs.Select(Split).ToArray();
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var tbs = RandomNumberGenerator.GetBytes(TbsLength);
        var keys = parts.Select(p => Import(p.SubjectPublicKeyInfo)).ToArray();
        try
        {
            // Each step alone on one thread, then the three together on every core.
            var step = duration / 4;
            var import = MicrosecondsPerCall(step, i => Import(parts[i % parts.Length].SubjectPublicKeyInfo).Dispose());
            var verify = MicrosecondsPerCall(step, i => Verify(keys[i % keys.Length], parts[i % parts.Length]));
            var sign = MicrosecondsPerCall(step, _ => caKey.SignData(tbs, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence));
            long issued = 0;
            var end = Stopwatch.GetTimestamp() + (long)(step.TotalSeconds * Stopwatch.Frequency);
            var start = Stopwatch.GetTimestamp();
            var threads = Enumerable.Range(0, Environment.ProcessorCount).Select(t => new Thread(() =>
            {
                long mine = 0;
                for (var i = t; Stopwatch.GetTimestamp() < end; i++, mine++)
                {
                    var part = parts[i % parts.Length];
                    using (var key = Import(part.SubjectPublicKeyInfo))
                    {
                        Verify(key, part);
                    }

                    lock (caKey)
                    {
                        caKey.SignData(tbs, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
                    }
                }

                Interlocked.Add(ref issued, mine);
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
            var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            return new Figures(import, verify, sign, issued / seconds);
        }
        finally
        {
            foreach (var key in keys)
            {
                key.Dispose();
            }
        }
    }

    private static ECDsa Import(byte[] subjectPublicKeyInfo)
    {
        var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(subjectPublicKeyInfo, out _);
        return key;
    }

    private static void Verify(ECDsa key, CsrParts part)
    {
        if (!key.VerifyData(part.Info, part.Signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence))
        {
            throw new InvalidOperationException("a bench CSR's signature does not verify");
        }
    }

    /// <summary>Warms up, then calls <paramref name="call"/> on this thread for <paramref name="duration"/>; thread CPU time per call.</summary>
    private static double MicrosecondsPerCall(TimeSpan duration, Action<int> call)
    {
        for (var i = 0; i < 200; i++)
        {
            call(i);
        }

        var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var cpuBefore = ThreadCpuTime();
        var calls = 0;
        while (Stopwatch.GetTimestamp() < end)
        {
            call(calls++);
        }

        return (ThreadCpuTime() - cpuBefore).TotalMicroseconds / calls;
    }

    private static TimeSpan ThreadCpuTime() => TimeSpan.FromTicks(Posix.ThreadCpuTicks());

    private sealed record CsrParts(byte[] Info, byte[] Signature, byte[] SubjectPublicKeyInfo);

    private static CsrParts Split(byte[] csr)
    {
        var request = new AsnReader(csr, AsnEncodingRules.DER).ReadSequence();
        var info = request.ReadEncodedValue().ToArray();
        request.ReadSequence();
        var signature = request.ReadBitString(out _);
        var infoReader = new AsnReader(info, AsnEncodingRules.DER).ReadSequence();
        infoReader.ReadInteger();
        infoReader.ReadEncodedValue();
        return new CsrParts(info, signature, infoReader.ReadEncodedValue().ToArray());
    }
}
