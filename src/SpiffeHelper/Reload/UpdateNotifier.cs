namespace SpiffeHelper.Reload;

/// <summary>
/// Decides when a write reaches the application (cmd, pid file). Nothing is sent until every configured
/// output has been written once, so cmd never starts with a missing file; the write that completes the
/// set sends the first notification. After that, X.509 writes always notify and JWT writes only when
/// <c>signal_on_jwt_update</c> is on.
/// </summary>
internal sealed class UpdateNotifier(IEnumerable<string> outputs, Func<Task> notify)
{
    private readonly HashSet<string> _notYetWritten = new(outputs, StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Records that <paramref name="output"/> was written; <paramref name="notifies"/> says whether this kind of write reaches the application.</summary>
    public Task WrittenAsync(string output, bool notifies)
    {
        bool completesTheSet;
        bool allWritten;
        lock (_lock)
        {
            completesTheSet = _notYetWritten.Remove(output) && _notYetWritten.Count == 0;
            allWritten = _notYetWritten.Count == 0;
        }

        return completesTheSet || (allWritten && notifies) ? notify() : Task.CompletedTask;
    }
}
