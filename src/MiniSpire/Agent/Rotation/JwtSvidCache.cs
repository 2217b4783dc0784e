using System.Collections.Concurrent;
using MiniSpire.Agent.Cache;
using MiniSpire.Agent.WorkloadApi;

namespace MiniSpire.Agent.Rotation;

/// <summary>A JWT-SVID as the server minted it, with its validity.</summary>
internal sealed record MintedJwtSvid(string Token, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt);

/// <summary>
/// The agent's JWT-SVID cache: one token per (SPIFFE ID, audience set), reused until less than its
/// jittered half lifetime remains, then minted again by the server. Concurrent requests for the same
/// key share one mint.
/// </summary>
internal sealed class JwtSvidCache(Func<CachedEntry, IReadOnlyList<string>, CancellationToken, Task<MintedJwtSvid>> mint, TimeProvider time) : IJwtSvidSource
{
    private readonly ConcurrentDictionary<string, Lazy<Task<CachedToken>>> _tokens = new(StringComparer.Ordinal);

    public int Count => _tokens.Count;

    public async Task<string> GetAsync(CachedEntry entry, IReadOnlyList<string> audience, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var key = entry.SpiffeId + "\n" + string.Join('\n', audience.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal));
        while (true)
        {
            var slot = _tokens.GetOrAdd(key, _ => new Lazy<Task<CachedToken>>(() => MintAsync(entry, audience)));
            CachedToken token;
            try
            {
                token = await slot.Value.WaitAsync(cancellationToken);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // A failed mint is not cached: the next caller tries again.
                _tokens.TryRemove(new KeyValuePair<string, Lazy<Task<CachedToken>>>(key, slot));
                throw;
            }

            if (!RotationPolicy.ShouldRotate(token.Svid.IssuedAt, token.Svid.ExpiresAt, time.GetUtcNow(), token.Jitter))
            {
                return token.Svid.Token;
            }

            _tokens.TryRemove(new KeyValuePair<string, Lazy<Task<CachedToken>>>(key, slot));
        }
    }

    /// <summary>Drops tokens that have expired, so the cache does not grow with audiences no one asks for again.</summary>
    public void Prune()
    {
        var now = time.GetUtcNow();
        foreach (var (key, slot) in _tokens)
        {
            if (slot.IsValueCreated && slot.Value.IsCompletedSuccessfully && slot.Value.Result.Svid.ExpiresAt <= now)
            {
                _tokens.TryRemove(new KeyValuePair<string, Lazy<Task<CachedToken>>>(key, slot));
            }
        }
    }

    private async Task<CachedToken> MintAsync(CachedEntry entry, IReadOnlyList<string> audience) =>
        new(await mint(entry, audience, CancellationToken.None), RotationPolicy.NextJitter(Random.Shared));

    private sealed record CachedToken(MintedJwtSvid Svid, double Jitter);
}
