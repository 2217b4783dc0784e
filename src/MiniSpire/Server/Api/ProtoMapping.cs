using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using MiniSpire.Entries;
using MiniSpire.Server.Ca;
using MiniSpire.Server.Datastore;
using MiniSpire.Server.Entries;
using Spiffe;
using Spiffe.Jwt;
using EntryProto = MiniSpire.Proto.Entry;
using SelectorProto = MiniSpire.Proto.Selector;

namespace MiniSpire.Server.Api;

/// <summary>Conversions between the datastore's records and the wire messages.</summary>
internal static class ProtoMapping
{
    public static EntryProto ToProto(this RegistrationEntry entry)
    {
        var proto = new EntryProto
        {
            Id = entry.Id,
            SpiffeId = entry.SpiffeId,
            ParentId = entry.ParentId,
            X509SvidTtl = entry.X509SvidTtl,
            JwtSvidTtl = entry.JwtSvidTtl,
            Admin = entry.Admin,
            Downstream = entry.Downstream,
            Hint = entry.Hint,
            ExpiresAt = entry.ExpiresAt,
            CreatedAt = entry.CreatedAt,
            RevisionNumber = entry.RevisionNumber,
        };
        proto.Selectors.AddRange(entry.Selectors.Select(s => new SelectorProto { Type = s.Type, Value = s.Value }));
        proto.DnsNames.AddRange(entry.DnsNames);
        proto.FederatesWith.AddRange(entry.FederatesWith);
        return proto;
    }

    /// <summary>Reads an entry from the wire; trust domain names in federates_with are normalized to bare names.</summary>
    public static RegistrationEntry FromProto(this EntryProto proto, string id, long createdAt) => new()
    {
        Id = id,
        SpiffeId = proto.SpiffeId,
        ParentId = proto.ParentId,
        Selectors = proto.Selectors.Select(s => new Selector(s.Type, s.Value)).ToList(),
        X509SvidTtl = proto.X509SvidTtl,
        JwtSvidTtl = proto.JwtSvidTtl,
        DnsNames = proto.DnsNames.ToList(),
        FederatesWith = proto.FederatesWith.Select(NormalizeTrustDomain).ToList(),
        Admin = proto.Admin,
        Downstream = proto.Downstream,
        Hint = proto.Hint,
        ExpiresAt = proto.ExpiresAt,
        CreatedAt = createdAt,
    };

    /// <summary>"spiffe://example.org" and "example.org" both name trust domain "example.org".</summary>
    public static string NormalizeTrustDomain(string text) =>
        text.StartsWith(SpiffeId.Scheme, StringComparison.Ordinal) ? text[SpiffeId.Scheme.Length..] : text;

    public static Proto.Bundle ToBundleProto(TrustDomain trustDomain, IEnumerable<X509Certificate2> x509, IEnumerable<JwtAuthority> jwt, long sequence)
    {
        var bundle = new Proto.Bundle
        {
            TrustDomain = trustDomain.Name,
            JwtAuthoritiesJwks = ByteString.CopyFrom(new JwtBundle(trustDomain, jwt).ToJwks()),
            SequenceNumber = sequence,
        };
        bundle.X509Authorities.AddRange(x509.Select(c => ByteString.CopyFrom(c.RawData)));
        return bundle;
    }

    public static Proto.Bundle ToProto(this FederatedBundleRecord record)
    {
        var bundle = new Proto.Bundle
        {
            TrustDomain = record.TrustDomain,
            JwtAuthoritiesJwks = ByteString.CopyFrom(record.JwtAuthoritiesJwks),
            SequenceNumber = record.SequenceNumber,
        };
        bundle.X509Authorities.AddRange(record.X509Authorities.Select(ByteString.CopyFrom));
        return bundle;
    }

    public static Proto.X509Svid ToSvidProto(SpiffeId id, IssuedX509Svid issued)
    {
        var svid = new Proto.X509Svid
        {
            SpiffeId = id.ToString(),
            ExpiresAt = issued.NotAfter.ToUnixTimeSeconds(),
        };

        // The leaf's DER was built for this response alone: it is handed over, not copied.
        svid.CertChain.Add(UnsafeByteOperations.UnsafeWrap(issued.CertificateDer));
        svid.CertChain.AddRange(issued.Intermediates.Select(c => ByteString.CopyFrom(c.RawData)));
        return svid;
    }
}
