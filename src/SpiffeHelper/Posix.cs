using System.Runtime.InteropServices;

namespace SpiffeHelper;

/// <summary>The few libc calls .NET does not expose: AOT-safe source-generated P/Invoke.</summary>
internal static partial class Posix
{
    public const int ESRCH = 3;

    private const int ORdonly = 0;
    private const int ODirectory = 0x10000;
    private const int OCloexec = 0x80000;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; returns 0 or the errno.</summary>
    public static int Kill(int pid, int signal) => kill(pid, signal) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>rename(2): atomically replaces <paramref name="to"/> (a file or a symlink) with <paramref name="from"/>.</summary>
    public static void Rename(string from, string to)
    {
        if (rename(from, to) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot rename \"{from}\" to \"{to}\": {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }
    }

    /// <summary>fsync(2) on a directory, so that renames and new entries in it survive a crash.</summary>
    public static void FsyncDirectory(string path)
    {
        var fd = open(path, ORdonly | ODirectory | OCloexec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot open directory \"{path}\" to sync it: {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }

        try
        {
            if (fsync(fd) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException($"cannot sync directory \"{path}\": {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rename(string oldpath, string newpath);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string pathname, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
