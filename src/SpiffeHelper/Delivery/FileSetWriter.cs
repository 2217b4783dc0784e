using System.Globalization;
using SpiffeHelper.Config;

namespace SpiffeHelper.Delivery;

/// <summary>
/// Writes a set of files into a folder so that readers never see a torn file, by one of two
/// strategies. Every file is created with its mode (umask can only narrow it; the mode is then set
/// exactly), written, fsynced, and only then switched in; the folder is fsynced after the switch. A
/// failure before the switch leaves the previous files as they were. A name may be one folder deep
/// (<c>bundles/example.org.pem</c>): the folder belongs to the set, files no longer in the set are removed.
/// </summary>
internal sealed class FileSetWriter(string directory, WriteStrategy strategy, TimeProvider time)
{
    /// <summary>The symlink the visible names point through (Kubernetes AtomicWriter layout).</summary>
    public const string DataLink = "..data";

    private const string DataLinkTemp = "..data_tmp";

    public string Directory { get; } = directory;

    public void Write(IReadOnlyList<FileContent> files)
    {
        ArgumentNullException.ThrowIfNull(files);
        System.IO.Directory.CreateDirectory(Directory);
        if (strategy == WriteStrategy.AtomicDir)
        {
            WriteAtomicDir(files);
        }
        else
        {
            WriteByRename(files);
        }
    }

    private void WriteAtomicDir(IReadOnlyList<FileContent> files)
    {
        // 1. Every file into a new hidden generation directory.
        var generation = ".." + time.GetUtcNow().ToString("yyyy_MM_dd_HH_mm_ss.fffffff", CultureInfo.InvariantCulture) + "_" + Guid.NewGuid().ToString("N")[..8];
        var generationPath = Path.Combine(Directory, generation);
        System.IO.Directory.CreateDirectory(generationPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        try
        {
            foreach (var folder in Folders(files))
            {
                System.IO.Directory.CreateDirectory(Path.Combine(generationPath, folder), FolderMode);
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
            var temp = Path.Combine(Directory, DataLinkTemp);
            DeleteIfExists(temp);
            File.CreateSymbolicLink(temp, generation);
            Posix.Rename(temp, Path.Combine(Directory, DataLink));
        }
        catch
        {
            TryDeleteDirectory(generationPath);
            throw;
        }

        // 3. The visible names: symlinks through ..data, created once (a regular file left by another tool is replaced atomically).
        foreach (var name in files.Select(f => TopLevel(f.Name)).Distinct(StringComparer.Ordinal))
        {
            var visible = Path.Combine(Directory, name);
            var target = Path.Combine(DataLink, name);
            var info = new FileInfo(visible);
            if (info.LinkTarget == target)
            {
                continue;
            }

            var temp = visible + ".link_tmp";
            DeleteIfExists(temp);
            File.CreateSymbolicLink(temp, target);
            Posix.Rename(temp, visible);
        }

        Posix.FsyncDirectory(Directory);

        // 4. Older generations are no longer reachable.
        foreach (var old in System.IO.Directory.EnumerateDirectories(Directory, "..*"))
        {
            var name = Path.GetFileName(old);
            if (name != generation && name != DataLink && name != DataLinkTemp && new DirectoryInfo(old).LinkTarget is null)
            {
                TryDeleteDirectory(old);
            }
        }
    }

    private void WriteByRename(IReadOnlyList<FileContent> files)
    {
        var temps = new List<(string Temp, string Final)>();
        try
        {
            foreach (var folder in Folders(files))
            {
                System.IO.Directory.CreateDirectory(Path.Combine(Directory, folder), FolderMode);
            }

            foreach (var file in files)
            {
                var final = Path.Combine(Directory, file.Name);
                var temp = Path.Combine(Path.GetDirectoryName(final)!, "." + Path.GetFileName(file.Name) + ".tmp-" + Guid.NewGuid().ToString("N")[..8]);
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

        foreach (var folder in Folders(files))
        {
            // A trust domain no longer federated with loses its file.
            var path = Path.Combine(Directory, folder);
            var current = files.Select(f => Path.Combine(Directory, f.Name)).ToHashSet(StringComparer.Ordinal);
            foreach (var stale in System.IO.Directory.EnumerateFiles(path).Where(f => !current.Contains(f)))
            {
                DeleteIfExists(stale);
            }

            Posix.FsyncDirectory(path);
        }

        Posix.FsyncDirectory(Directory);
    }

    private const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

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
        if (File.Exists(path) || new FileInfo(path).LinkTarget is not null)
        {
            File.Delete(path);
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
