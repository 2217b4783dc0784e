namespace SpiffeHelper.Config;

/// <summary>
/// The write strategy to use for a cert_dir, decided at start-up. atomic_dir (the default) adds
/// <c>..data</c> and <c>..&lt;timestamp&gt;</c> entries to cert_dir, which is safe in a directory the helper
/// owns (an emptyDir, a folder of its own) but not in one another program reads as a whole (the Go tool's
/// MySQL example points cert_dir at MySQL's data directory, where every entry may be taken for a database).
/// So when write_strategy is not set and cert_dir holds anything the helper did not write (or files of a
/// rename/Go-tool layout), the helper uses rename, which only ever replaces its own files.
/// </summary>
internal static class WriteStrategyChoice
{
    /// <summary>The strategy and, when it differs from the configured one or deserves a warning, why.</summary>
    internal sealed record Choice(WriteStrategy Strategy, string? Reason, bool IsWarning);

    public static Choice Decide(HelperOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var foreign = ForeignEntry(options, out var regularOutput);
        if (options.WriteStrategyIsExplicit)
        {
            return options.WriteStrategy == WriteStrategy.AtomicDir && foreign is not null
                ? new Choice(WriteStrategy.AtomicDir, $"write_strategy = \"atomic_dir\" adds ..data and ..<timestamp> entries to {options.CertDir}, which also holds \"{foreign}\" that the helper did not write; if another program reads that directory as a whole, use write_strategy = \"rename\"", IsWarning: true)
                : new Choice(options.WriteStrategy, null, IsWarning: false);
        }

        if (foreign is not null)
        {
            return new Choice(WriteStrategy.Rename, $"write_strategy is not set and cert_dir {options.CertDir} holds \"{foreign}\", which the helper did not write: using \"rename\", which replaces only the helper's own files (set write_strategy to choose)", IsWarning: false);
        }

        if (regularOutput is not null)
        {
            return new Choice(WriteStrategy.Rename, $"write_strategy is not set and cert_dir {options.CertDir} holds \"{regularOutput}\" as a regular file (a rename or Go spiffe-helper layout): keeping \"rename\" (set write_strategy to choose)", IsWarning: false);
        }

        return new Choice(WriteStrategy.AtomicDir, null, IsWarning: false);
    }

    /// <summary>The first entry of cert_dir the helper would not have written, or null.</summary>
    private static string? ForeignEntry(HelperOptions options, out string? regularOutput)
    {
        regularOutput = null;
        if (!Directory.Exists(options.CertDir))
        {
            return null;
        }

        var own = new HashSet<string>([.. options.X509?.FileNames ?? [], .. options.Jwt?.FileNames ?? []], StringComparer.Ordinal);
        var hasDataLink = false;
        string? foreign = null;
        foreach (var entry in new DirectoryInfo(options.CertDir).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var name = entry.Name;
            if (name == "..data")
            {
                hasDataLink = true;
                continue;
            }

            if (name.StartsWith("..", StringComparison.Ordinal) || name.EndsWith(".link_tmp", StringComparison.Ordinal) || (name.StartsWith('.') && name.Contains(".tmp-", StringComparison.Ordinal)))
            {
                continue;
            }

            if (own.Contains(name))
            {
                if (entry.LinkTarget is null && (options.X509?.FileNames.Contains(name) ?? false))
                {
                    regularOutput ??= name;
                }

                continue;
            }

            foreign ??= name;
        }

        if (hasDataLink)
        {
            regularOutput = null;
        }

        return foreign;
    }
}
