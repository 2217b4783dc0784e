using System.Collections.Concurrent;
using System.Globalization;
using System.Text.RegularExpressions;
using SpiffeHelper.Config;

namespace SpiffeHelper.Delivery;

/// <summary>
/// Writes a set of files into a folder so that readers never see a torn file, by one of two
/// strategies. Every file is created with its mode (umask can only narrow it; the mode is then set
/// exactly), written, fsynced, and only then switched in; the folder is fsynced after the switch. A
/// failure before the switch leaves the previous files as they were. A name may be one folder deep
/// (<c>bundles/example.org.pem</c>): the folder belongs to the set, files no longer in the set are removed.
/// </summary>
/// <remarks>
/// Under the folder nothing is followed that the helper did not create: every entry is inspected with lstat,
/// a folder of the set must be a real directory (a symlink there is refused: its files would land, and stale
/// ones be deleted, wherever it points), new files are created with O_EXCL, renames replace a link rather
/// than write through it, and the only links the helper reads through are its own (<c>..data</c> and
/// <c>name -&gt; ..data/name</c>). Directories it creates get 0755 exactly, whatever the umask. Temp files
/// left by a killed run (private-key copies among them) are removed at start-up and after every write.
/// </remarks>
internal sealed partial class FileSetWriter(string directory, WriteStrategy strategy, TimeProvider time)
{
    /// <summary>The symlink the visible names point through (Kubernetes AtomicWriter layout).</summary>
    public const string DataLink = "..data";

    private const string DataLinkTemp = "..data_tmp";

    private const string LinkTempSuffix = ".link_tmp";

    /// <summary>The mode of every directory the helper creates, set exactly.</summary>
    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    // Temp names in use by any writer of this process (the X.509 and JWT writers share cert_dir): never cleaned up.
    private static readonly ConcurrentDictionary<string, byte> InFlight = new(StringComparer.Ordinal);

    public string Directory { get; } = directory;

    /// <summary>Creates <paramref name="path"/> (and missing parents) with mode 0755 exactly when it does not exist; an existing one is left as it is.</summary>
    public static void CreateDirectory(string path) => Posix.CreateDirectory(path, FolderMode);

    public void Write(IReadOnlyList<FileContent> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        CreateDirectory(Directory);
        if (strategy == WriteStrategy.AtomicDir)
        {
            WriteAtomicDir(files);
        }
        else
        {
            WriteByRename(files);
        }

        RemoveLeftovers();
    }

    /// <summary>
    /// What in the folder would make this strategy write through a link it did not create, or fail after the switch:
    /// one message per problem, naming the path. <paramref name="folders"/> are the names that hold files of the set.
    /// </summary>
    public IReadOnlyList<string> CheckLayout(IEnumerable<string> fileNames, IEnumerable<string> folders)
    {
        ArgumentNullException.ThrowIfNull(fileNames);
        ArgumentNullException.ThrowIfNull(folders);
        var problems = new List<string>();
        if (Posix.GetEntryType(Directory) == EntryType.None)
        {
            return problems;
        }

        foreach (var name in fileNames)
        {
            var path = Path.Combine(Directory, name);
            if (Posix.GetEntryType(path) == EntryType.Directory)
            {
                problems.Add($"\"{path}\" is a directory, where the helper writes the file \"{name}\"; remove it or choose another file name");
            }
        }

        foreach (var folder in folders)
        {
            var path = Path.Combine(Directory, folder);
            switch (Posix.GetEntryType(path))
            {
                case EntryType.SymbolicLink when strategy == WriteStrategy.Rename && !IsOwnVisibleLink(folder):
                    problems.Add($"\"{path}\" is a symbolic link to \"{new FileInfo(path).LinkTarget}\", which the helper did not create; it writes and deletes files only in a real directory: remove the link");
                    break;
                case EntryType.Directory when strategy == WriteStrategy.AtomicDir && ForeignEntry(path) is { } foreign:
                    problems.Add($"\"{path}\" is a directory holding \"{foreign}\", which the helper did not write; with write_strategy = \"atomic_dir\" the helper replaces this directory by a symlink into ..data: move that file away or keep write_strategy = \"rename\"");
                    break;
                case EntryType.Regular or EntryType.Other:
                    problems.Add($"\"{path}\" is a file, where the helper writes the folder \"{folder}\"; remove it");
                    break;
            }
        }

        return problems;
    }

    /// <summary>
    /// Removes what a run killed mid-write left: the helper's temp files (<c>.name.tmp-xxxxxxxx</c>, possibly private-key
    /// copies) and temp links in the folder and its real subfolders, and generation directories <c>..data</c> no longer
    /// points to. Only the helper's own name patterns, never one in use by a writer of this process. Returns what was removed.
    /// </summary>
    public IReadOnlyList<string> RemoveLeftovers()
    {
        var removed = new List<string>();
        if (!System.IO.Directory.Exists(Directory))
        {
            return removed;
        }

        string? current = null;
        if (strategy == WriteStrategy.AtomicDir)
        {
            current = new FileInfo(Path.Combine(Directory, DataLink)).LinkTarget;
        }

        foreach (var entry in System.IO.Directory.EnumerateFileSystemEntries(Directory))
        {
            var name = Path.GetFileName(entry);
            var type = Posix.GetEntryType(entry);
            if (InFlight.ContainsKey(entry))
            {
                continue;
            }

            if (type == EntryType.Directory && GenerationName().IsMatch(name))
            {
                // Only the atomic_dir writer knows which generation is live; a rename writer leaves them alone.
                if (current is not null && name != current)
                {
                    TryDeleteDirectory(entry);
                    removed.Add(entry);
                }

                continue;
            }

            if (type == EntryType.Directory && !name.StartsWith("..", StringComparison.Ordinal))
            {
                foreach (var inner in System.IO.Directory.EnumerateFileSystemEntries(entry))
                {
                    if (IsTempName(Path.GetFileName(inner)) && !InFlight.ContainsKey(inner) && TryDeleteFile(inner))
                    {
                        removed.Add(inner);
                    }
                }

                continue;
            }

            if (type != EntryType.Directory && IsTempName(name) && TryDeleteFile(entry))
            {
                removed.Add(entry);
            }
        }

        return removed;
    }

    private static bool IsTempName(string name) =>
        TempFileName().IsMatch(name) || name == DataLinkTemp || name.EndsWith(LinkTempSuffix, StringComparison.Ordinal);

    private static string TempNameFor(string final) =>
        Path.Combine(Path.GetDirectoryName(final)!, "." + Path.GetFileName(final) + ".tmp-" + Guid.NewGuid().ToString("N")[..8]);

    [GeneratedRegex(@"^\..+\.tmp-[0-9a-f]{8}$", RegexOptions.CultureInvariant)]
    private static partial Regex TempFileName();

    [GeneratedRegex(@"^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d{7}_[0-9a-f]{8}$", RegexOptions.CultureInvariant)]
    private static partial Regex GenerationName();

    /// <summary>The visible name <paramref name="name"/> is the atomic_dir layout's own link, <c>name -&gt; ..data/name</c>.</summary>
    private bool IsOwnVisibleLink(string name) => new FileInfo(Path.Combine(Directory, name)).LinkTarget == Path.Combine(DataLink, name);

    /// <summary>The first entry of a folder the helper did not write there (anything but regular <c>.pem</c> files and its temp files), or null.</summary>
    private static string? ForeignEntry(string folder) =>
        System.IO.Directory.EnumerateFileSystemEntries(folder)
            .FirstOrDefault(e => !(Posix.GetEntryType(e) == EntryType.Regular && (e.EndsWith(".pem", StringComparison.Ordinal) || IsTempName(Path.GetFileName(e)))));

    private void WriteAtomicDir(IReadOnlyList<FileContent> files)
    {
        // 1. Every file into a new hidden generation directory.
        var generation = ".." + time.GetUtcNow().ToString("yyyy_MM_dd_HH_mm_ss.fffffff", CultureInfo.InvariantCulture) + "_" + Guid.NewGuid().ToString("N")[..8];
        var generationPath = Path.Combine(Directory, generation);
        var temp = Path.Combine(Directory, DataLinkTemp);
        InFlight[generationPath] = 0;
        InFlight[temp] = 0;
        if (!Posix.CreateDirectory(generationPath, FolderMode))
        {
            throw new IOException($"\"{generationPath}\" already exists");
        }

        try
        {
            foreach (var folder in Folders(files))
            {
                Posix.CreateDirectory(Path.Combine(generationPath, folder), FolderMode);
            }

            foreach (var file in files)
            {
                WriteNewFile(Path.Combine(generationPath, file.Name), file);
            }

            foreach (var folder in Folders(files))
            {
                Posix.FsyncDirectory(Path.Combine(generationPath, folder));
            }

            Posix.FsyncDirectory(generationPath);

            // 2. ..data_tmp -> generation, renamed over ..data: this one rename switches every file.
            DeleteIfExists(temp);
            File.CreateSymbolicLink(temp, generation);
            Posix.Rename(temp, Path.Combine(Directory, DataLink));
        }
        catch
        {
            TryDeleteDirectory(generationPath);
            throw;
        }
        finally
        {
            InFlight.TryRemove(temp, out _);
        }

        try
        {
            // 3. The visible names: symlinks through ..data, created once. A regular file or foreign link there is replaced
            // atomically (rename replaces a link, never writes through it); a folder left by write_strategy = "rename"
            // is swapped for the link in one step, then removed.
            foreach (var name in files.Select(f => TopLevel(f.Name)).Distinct(StringComparer.Ordinal))
            {
                var visible = Path.Combine(Directory, name);
                var target = Path.Combine(DataLink, name);
                var type = Posix.GetEntryType(visible);
                if (type == EntryType.SymbolicLink && new FileInfo(visible).LinkTarget == target)
                {
                    continue;
                }

                var linkTemp = visible + LinkTempSuffix;
                InFlight[linkTemp] = 0;
                try
                {
                    DeleteIfExists(linkTemp);
                    File.CreateSymbolicLink(linkTemp, target);
                    if (type == EntryType.Directory)
                    {
                        ReplaceFolderByLink(visible, linkTemp);
                    }
                    else
                    {
                        Posix.Rename(linkTemp, visible);
                    }
                }
                finally
                {
                    InFlight.TryRemove(linkTemp, out _);
                }
            }

            Posix.FsyncDirectory(Directory);
        }
        finally
        {
            InFlight.TryRemove(generationPath, out _);
        }

        // 4. Older generations are no longer reachable: removed with the other leftovers after the write.
    }

    /// <summary>A folder of the rename layout becomes the atomic_dir layout's link: exchanged in one step where the file system can, else moved aside first.</summary>
    private static void ReplaceFolderByLink(string folder, string link)
    {
        var foreign = ForeignEntry(folder);
        if (foreign is not null)
        {
            throw new IOException($"\"{folder}\" is a directory holding \"{foreign}\", which the helper did not write; it is not replaced by the atomic_dir link: move that file away or use write_strategy = \"rename\"");
        }

        if (Posix.TryExchange(link, folder))
        {
            TryDeleteDirectory(link);
            return;
        }

        var aside = TempNameFor(folder);
        Posix.Rename(folder, aside);
        Posix.Rename(link, folder);
        TryDeleteDirectory(aside);
    }

    /// <summary>
    /// A folder of the set for write_strategy = "rename": a real directory under <see cref="Directory"/>, created with
    /// mode 0755 when missing. The atomic_dir layout's own link is replaced by a real directory; any other link is refused.
    /// </summary>
    private void EnsureRealFolder(string name)
    {
        var path = Path.Combine(Directory, name);
        switch (Posix.GetEntryType(path))
        {
            case EntryType.Directory:
                return;
            case EntryType.None:
                if (Posix.CreateDirectory(path, FolderMode) || Posix.GetEntryType(path) == EntryType.Directory)
                {
                    return;
                }

                break;
            case EntryType.SymbolicLink when IsOwnVisibleLink(name):
                var fresh = TempNameFor(path);
                InFlight[fresh] = 0;
                try
                {
                    Posix.CreateDirectory(fresh, FolderMode);
                    if (Posix.TryExchange(fresh, path))
                    {
                        File.Delete(fresh);
                    }
                    else
                    {
                        File.Delete(path);
                        Posix.Rename(fresh, path);
                    }
                }
                finally
                {
                    InFlight.TryRemove(fresh, out _);
                }

                return;
        }

        throw new IOException(Posix.GetEntryType(path) == EntryType.SymbolicLink
            ? $"\"{path}\" is a symbolic link to \"{new FileInfo(path).LinkTarget}\", which the helper did not create; it writes and deletes files only in a real directory: remove the link"
            : $"\"{path}\" is not a directory; the helper writes the folder \"{name}\" there: remove it");
    }

    private void WriteByRename(IReadOnlyList<FileContent> files)
    {
        var temps = new List<(string Temp, string Final)>();
        try
        {
            foreach (var folder in Folders(files))
            {
                EnsureRealFolder(folder);
            }

            foreach (var file in files)
            {
                var final = Path.Combine(Directory, file.Name);
                var temp = TempNameFor(final);
                InFlight[temp] = 0;
                temps.Add((temp, final));
                WriteNewFile(temp, file);
            }

            foreach (var (temp, final) in temps)
            {
                Posix.Rename(temp, final);
            }
        }
        catch
        {
            foreach (var (temp, _) in temps)
            {
                DeleteIfExists(temp);
            }

            throw;
        }
        finally
        {
            foreach (var (temp, _) in temps)
            {
                InFlight.TryRemove(temp, out _);
            }
        }

        foreach (var folder in Folders(files))
        {
            // A trust domain no longer federated with loses its file (the folder was checked to be a real directory).
            var path = Path.Combine(Directory, folder);
            EnsureRealFolder(folder);
            var current = files.Select(f => Path.Combine(Directory, f.Name)).ToHashSet(StringComparer.Ordinal);
            foreach (var stale in System.IO.Directory.EnumerateFileSystemEntries(path).Where(f => !current.Contains(f) && !InFlight.ContainsKey(f) && Posix.GetEntryType(f) != EntryType.Directory))
            {
                DeleteIfExists(stale);
            }

            Posix.FsyncDirectory(path);
        }

        Posix.FsyncDirectory(Directory);
    }

    private static string TopLevel(string name) => name.Split('/')[0];

    private static IEnumerable<string> Folders(IReadOnlyList<FileContent> files) =>
        files.Where(f => f.Name.Contains('/', StringComparison.Ordinal)).Select(f => TopLevel(f.Name)).Distinct(StringComparer.Ordinal);

    private static void WriteNewFile(string path, FileContent file)
    {
        // A new name (CreateNew) in a folder no reader knows yet: no one to exclude, so FileShare.Read, with which
        // .NET takes no flock() on a file opened for writing (FileShare.None costs a lock and an unlock per file).
        var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.Read, UnixCreateMode = file.Mode };
        using var stream = new FileStream(path, create);
        stream.Write(file.Bytes);

        // The creation mode passed through the umask; set it exactly (also widening, such as 0644 under umask 077),
        // on the open file rather than by name, before the fsync so the mode is as durable as the bytes.
        File.SetUnixFileMode(stream.SafeFileHandle, file.Mode);
        stream.Flush(flushToDisk: true);
    }

    private static void DeleteIfExists(string path)
    {
        if (Posix.GetEntryType(path) is not (EntryType.None or EntryType.Directory))
        {
            File.Delete(path);
        }
    }

    private static bool TryDeleteFile(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void TryDeleteDirectory(string path)
    {
        try
        {
            System.IO.Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Left for the next write's cleanup.
        }
    }
}
