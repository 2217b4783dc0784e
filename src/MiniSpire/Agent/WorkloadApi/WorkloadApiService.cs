using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MiniSpire.Agent.Attestation;
using MiniSpire.Agent.Cache;
using MiniSpire.Entries;
using Spiffe;
using Spiffe.Jwt;
using Spiffe.WorkloadApi.Proto;

namespace MiniSpire.Agent.WorkloadApi;

/// <summary>Mints JWT-SVIDs for an entry (the agent's JWT cache in front of the server).</summary>
internal interface IJwtSvidSource
{
    Task<string> GetAsync(CachedEntry entry, IReadOnlyList<string> audience, CancellationToken cancellationToken);
}

/// <summary>
/// The SPIFFE Workload API as the SPIRE agent serves it: the security header is required, the caller is
/// attested from its Unix peer credentials, and it receives the identities of every entry whose
/// selectors its own include. Streams send a complete snapshot on every relevant cache change; when the
/// agent stops they end at once with Unavailable, which clients retry (as SPIRE's agent ends them).
/// </summary>
internal sealed partial class WorkloadApiService(
    AgentCache cache,
    CallerIdentification callers,
    IJwtSvidSource jwtSvids,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<WorkloadApiService> logger) : SpiffeWorkloadAPI.SpiffeWorkloadAPIBase
{
    private const string SecurityHeaderKey = "workload.spiffe.io";

    public override async Task FetchX509SVID(X509SVIDRequest request, IServerStreamWriter<X509SVIDResponse> responseStream, ServerCallContext context)
    {
        var caller = Admit(context, nameof(FetchX509SVID));
        var sentAny = false;
        await StreamAsync(context, state =>
        {
            if (!state.EntriesKnown)
            {
                return null;
            }

            var identities = state.Match(caller.Selectors);
            if (identities.Count == 0)
            {
                LogNoMatch(context.Method, state, caller, sentAny);
                throw new RpcException(new Status(StatusCode.PermissionDenied, "no identity issued"));
            }

            // As SPIRE: a new subscriber waits until every matching entry has its SVID.
            if (identities.Any(i => i.Svid is null) || state.Bundle is null)
            {
                return null;
            }

            sentAny = true;
            return ToX509Response(state, identities);
        }, responseStream);
    }

    public override Task FetchX509Bundles(X509BundlesRequest request, IServerStreamWriter<X509BundlesResponse> responseStream, ServerCallContext context) =>
        StreamBundlesAsync(context, nameof(FetchX509Bundles), responseStream, bundles =>
        {
            var response = new X509BundlesResponse();
            foreach (var bundle in bundles)
            {
                response.Bundles.Add(bundle.TrustDomain.IdString, UnsafeByteOperations.UnsafeWrap(bundle.X509AuthoritiesDer()));
            }

            return response;
        });

    public override Task FetchJWTBundles(JWTBundlesRequest request, IServerStreamWriter<JWTBundlesResponse> responseStream, ServerCallContext context) =>
        StreamBundlesAsync(context, nameof(FetchJWTBundles), responseStream, bundles =>
        {
            var response = new JWTBundlesResponse();
            foreach (var bundle in bundles)
            {
                response.Bundles.Add(bundle.TrustDomain.IdString, UnsafeByteOperations.UnsafeWrap(bundle.Jwks));
            }

            return response;
        });

    public override async Task<JWTSVIDResponse> FetchJWTSVID(JWTSVIDRequest request, ServerCallContext context)
    {
        RequireSecurityHeader(context);
        if (request.Audience.Count == 0 || request.Audience.Any(string.IsNullOrEmpty))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "audience must be specified"));
        }

        SpiffeId? wanted = null;
        if (!string.IsNullOrEmpty(request.SpiffeId) && !SpiffeId.TryParse(request.SpiffeId, out wanted, out var idError))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"invalid requested SPIFFE ID: {idError}"));
        }

        var caller = Attest(context, nameof(FetchJWTSVID));
        var identities = RequireIdentities(context, cache.Current, caller)
            .Where(i => wanted is null || i.Entry.SpiffeId == wanted)
            .ToList();
        if (identities.Count == 0)
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, $"no identity issued for \"{request.SpiffeId}\""));
        }

        var audience = request.Audience.ToList();
        var response = new JWTSVIDResponse();
        var hints = new HashSet<string>(StringComparer.Ordinal);
        foreach (var identity in identities)
        {
            if (identity.Entry.Hint.Length > 0 && !hints.Add(identity.Entry.Hint))
            {
                continue;
            }

            var token = await jwtSvids.GetAsync(identity.Entry, audience, context.CancellationToken);
            response.Svids.Add(new JWTSVID { SpiffeId = identity.Entry.SpiffeId.ToString(), Svid = token, Hint = identity.Entry.Hint });
        }

        return response;
    }

    public override Task<ValidateJWTSVIDResponse> ValidateJWTSVID(ValidateJWTSVIDRequest request, ServerCallContext context)
    {
        RequireSecurityHeader(context);
        if (string.IsNullOrEmpty(request.Audience))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "audience must be specified"));
        }

        if (string.IsNullOrEmpty(request.Svid))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "svid must be specified"));
        }

        var caller = Attest(context, nameof(ValidateJWTSVID));
        var state = cache.Current;
        RequireIdentities(context, state, caller);

        var bundles = new List<JwtBundle>();
        foreach (var bundle in new[] { state.Bundle }.Concat(state.FederatedBundles.Values).OfType<CachedBundle>())
        {
            try
            {
                bundles.Add(JwtBundle.Parse(bundle.TrustDomain, bundle.Jwks));
            }
            catch (JwtSvidException e)
            {
                LogUnusableJwtBundle(logger, bundle.TrustDomain.Name, e.Message);
            }
        }

        JwtSvid svid;
        try
        {
            svid = JwtSvid.Parse(request.Svid, new JwtBundleSet(bundles), [request.Audience], time);
        }
        catch (JwtSvidException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }

        return Task.FromResult(new ValidateJWTSVIDResponse
        {
            SpiffeId = svid.Id.ToString(),
            Claims = Struct.Parser.ParseJson(svid.ClaimsJson),
        });
    }

    private static X509SVIDResponse ToX509Response(CacheState state, IReadOnlyList<WorkloadIdentity> identities)
    {
        // The cached arrays are never written after they are stored, so every stream's message wraps them
        // instead of holding its own copies (a response per stream is kept to suppress repeats).
        var response = new X509SVIDResponse();
        var bundleDer = UnsafeByteOperations.UnsafeWrap(state.Bundle!.X509AuthoritiesDer());
        var hints = new HashSet<string>(StringComparer.Ordinal);
        foreach (var identity in identities)
        {
            if (identity.Entry.Hint.Length > 0 && !hints.Add(identity.Entry.Hint))
            {
                continue;
            }

            response.Svids.Add(new X509SVID
            {
                SpiffeId = identity.Entry.SpiffeId.ToString(),
                X509Svid = UnsafeByteOperations.UnsafeWrap(identity.Svid!.ChainDer),
                X509SvidKey = UnsafeByteOperations.UnsafeWrap(identity.Svid.PrivateKeyPkcs8),
                Bundle = bundleDer,
                Hint = identity.Entry.Hint,
            });
        }

        foreach (var federated in state.FederatedBundlesFor(identities))
        {
            response.FederatedBundles.Add(federated.TrustDomain.IdString, UnsafeByteOperations.UnsafeWrap(federated.X509AuthoritiesDer()));
        }

        return response;
    }

    /// <summary>
    /// A bundle stream: the caller's own trust domain and the federated ones its entries name, sent again
    /// whenever they change (identical messages are suppressed by <see cref="StreamAsync"/>).
    /// </summary>
    private Task StreamBundlesAsync<T>(ServerCallContext context, string rpc, IServerStreamWriter<T> stream, Func<IEnumerable<CachedBundle>, T> build)
        where T : class, IMessage<T>
    {
        var caller = Admit(context, rpc);
        return StreamAsync(context, state =>
        {
            if (!state.EntriesKnown)
            {
                return null;
            }

            var identities = RequireIdentities(context, state, caller);
            return state.Bundle is null ? null : build(new[] { state.Bundle }.Concat(state.FederatedBundlesFor(identities)));
        }, stream);
    }

    private IReadOnlyList<WorkloadIdentity> RequireIdentities(ServerCallContext context, CacheState state, AttestedCaller caller)
    {
        if (!state.EntriesKnown)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "the agent has not synced its entries with the server yet"));
        }

        var identities = state.Match(caller.Selectors);
        if (identities.Count == 0)
        {
            LogNoMatch(context.Method, state, caller, wasServing: false);
            throw new RpcException(new Status(StatusCode.PermissionDenied, "no identity issued"));
        }

        return identities;
    }

    /// <summary>
    /// Sends <paramref name="build"/>'s message whenever the cache changes and the message differs from
    /// the last one sent; null means "nothing to send yet". Ends when the caller goes away, or with
    /// Unavailable when the agent is stopping (so shutdown never waits for open streams).
    /// </summary>
    private async Task StreamAsync<T>(ServerCallContext context, Func<CacheState, T?> build, IServerStreamWriter<T> stream)
        where T : class, IMessage<T>
    {
        T? last = null;
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, lifetime.ApplicationStopping);
        try
        {
            while (!ended.IsCancellationRequested)
            {
                var state = cache.Current;
                var message = build(state);
                if (message is not null && !message.Equals(last))
                {
                    await stream.WriteAsync(message, ended.Token);
                    last = message;
                }

                await cache.WaitForChangeAsync(state.Version, ended.Token);
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The workload hung up.
            return;
        }
        catch (OperationCanceledException) when (lifetime.ApplicationStopping.IsCancellationRequested)
        {
        }

        if (!context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, "the agent is shutting down"));
        }
    }

    private AttestedCaller Admit(ServerCallContext context, string rpc)
    {
        RequireSecurityHeader(context);
        return Attest(context, rpc);
    }

    private AttestedCaller Attest(ServerCallContext context, string rpc)
    {
        var attestation = callers.Attest(context);
        if (!attestation.Succeeded)
        {
            if (attestation.Failure == AttestationFailure.CredentialsChanged)
            {
                LogCallerCredentialsChanged(logger, rpc, attestation.Caller.Pid, attestation.Caller.Uid, attestation.Caller.Gid);
            }
            else
            {
                LogCallerGone(logger, rpc, attestation.Caller.Pid);
            }

            throw new RpcException(new Status(StatusCode.Unauthenticated, "could not verify existence of the original caller"));
        }

        if (logger.IsEnabled(LogLevel.Debug))
        {
            // SPIRE's agent logs the same at DEBUG ("PID attested to have selectors"): what an entry must name.
            var selectors = string.Join(" ", attestation.Selectors.Select(s => $"{s.Type}:{s.Value}"));
            LogAttested(logger, attestation.Caller.Pid, selectors, rpc);
        }

        return new AttestedCaller(attestation.Caller.Pid, attestation.Selectors.ToHashSet());
    }

    private static void RequireSecurityHeader(ServerCallContext context)
    {
        var values = context.RequestHeaders.Where(h => h.Key == SecurityHeaderKey).ToList();
        if (values.Count != 1 || values[0].Value != "true")
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "security header missing from request"));
        }
    }

    private void LogNoMatch(string method, CacheState state, AttestedCaller caller, bool wasServing)
    {
        if (!logger.IsEnabled(LogLevel.Warning))
        {
            return;
        }

        var text = string.Join(", ", caller.Selectors.Select(s => s.ToString()).Order(StringComparer.Ordinal));
        var nearest = NearMisses.Describe(NearMisses.Find(state.Entries.Values, caller.Selectors, max: 3));
        if (wasServing)
        {
            LogIdentityRevoked(logger, method, caller.Pid, text, nearest);
        }
        else
        {
            LogNoIdentity(logger, method, caller.Pid, text, nearest);
        }
    }

    private sealed record AttestedCaller(int Pid, IReadOnlySet<Selector> Selectors);

    [LoggerMessage(EventId = 100, Level = LogLevel.Warning, Message = "No registration entry matches the caller of {Method} (pid {Pid}); its selectors are: {Selectors}. Nearest entries: {NearMisses}")]
    private static partial void LogNoIdentity(ILogger logger, string method, int pid, string selectors, string nearMisses);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "The caller of {Method} (pid {Pid}) no longer has any identity; ending its stream. Its selectors are: {Selectors}. Nearest entries: {NearMisses}")]
    private static partial void LogIdentityRevoked(ILogger logger, string method, int pid, string selectors, string nearMisses);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "The caller of {Rpc} (pid {Pid}) exited or was replaced during attestation")]
    private static partial void LogCallerGone(ILogger logger, string rpc, int pid);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "The caller of {Rpc} (pid {Pid}) no longer runs as uid {Uid} gid {Gid}, the credentials it connected with (it exec'd a setuid or setgid program, or changed its ids); refused")]
    private static partial void LogCallerCredentialsChanged(ILogger logger, string rpc, int pid, uint uid, uint gid);

    [LoggerMessage(EventId = 105, Level = LogLevel.Debug, Message = "PID attested to have selectors: pid {Pid}, selectors [{Selectors}] ({Rpc})")]
    private static partial void LogAttested(ILogger logger, int pid, string selectors, string rpc);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "The JWT bundle of {TrustDomain} cannot be used for validation: {Reason}")]
    private static partial void LogUnusableJwtBundle(ILogger logger, string trustDomain, string reason);
}
