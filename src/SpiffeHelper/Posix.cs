using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace SpiffeHelper;

/// <summary>What a path names, seen without following a final symbolic link (lstat).</summary>
internal enum EntryType
{
    None,
    Regular,
    Directory,
    SymbolicLink,

    /// <summary>A FIFO, socket or device.</summary>
    Other,
}

/// <summary>The few libc calls .NET does not expose: AOT-safe source-generated P/Invoke.</summary>
internal static partial class Posix
{
    public const int ESRCH = 3;
    private const int ENOENT = 2;
    private const int EEXIST = 17;
    private const int ENOTDIR = 20;

    private const int ORdonly = 0;
    private const int ONoctty = 0x100;
    private const int ONonblock = 0x800;
    private const int ODirectory = 0x10000;
    private const int ONofollow = 0x20000;
    private const int OCloexec = 0x80000;

    private const int AtFdcwd = -100;
    private const int AtSymlinkNofollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxType = 0x1;
    private const uint RenameExchange = 2;

    // struct statx is the same on every Linux architecture: stx_mode is the u16 at offset 28.
    private const int StatxSize = 256;
    private const int StatxModeOffset = 28;

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

    /// <summary>renameat2(RENAME_EXCHANGE): swaps two entries of any type in one step; false when the file system cannot.</summary>
    public static bool TryExchange(string a, string b)
    {
        if (renameat2(AtFdcwd, a, AtFdcwd, b, RenameExchange) == 0)
        {
            return true;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno is 22 or 38 or 95 // EINVAL, ENOSYS, EOPNOTSUPP: not supported here
            ? false
            : throw new IOException($"cannot exchange \"{a}\" and \"{b}\": {Marshal.GetPInvokeErrorMessage(errno)}", errno);
    }

    /// <summary>What <paramref name="path"/> is, without following it when it is a symbolic link.</summary>
    public static EntryType GetEntryType(string path)
    {
        Span<byte> buffer = stackalloc byte[StatxSize];
        if (statx(AtFdcwd, path, AtSymlinkNofollow, StatxType, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno is ENOENT or ENOTDIR
                ? EntryType.None
                : throw new IOException($"cannot inspect \"{path}\": {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }

        return TypeOf(buffer);
    }

    /// <summary>
    /// mkdir(2) with <paramref name="mode"/> set exactly whatever the umask (fchmod on the new directory, opened
    /// without following links); the missing parents too. False when <paramref name="path"/> already exists (left as it is).
    /// </summary>
    public static bool CreateDirectory(string path, UnixFileMode mode)
    {
        if (mkdir(path, (int)mode) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno == EEXIST)
            {
                return false;
            }

            var parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(path));
            if (errno != ENOENT || string.IsNullOrEmpty(parent) || parent == path)
            {
                throw new IOException($"cannot create directory \"{path}\": {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }

            CreateDirectory(parent, mode);
            return CreateDirectory(path, mode);
        }

        var fd = open(path, ORdonly | ODirectory | ONofollow | OCloexec);
        if (fd < 0 || fchmod(fd, (int)mode) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (fd >= 0)
            {
                _ = close(fd);
            }

            throw new IOException($"cannot set the mode of new directory \"{path}\": {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }

        _ = close(fd);
        return true;
    }

    /// <summary>
    /// Reads a small regular file without ever blocking: opened with O_NONBLOCK (a FIFO opens at once and is then
    /// refused), anything but a regular file refused (a link to /dev/zero), at most <paramref name="limit"/> bytes.
    /// </summary>
    /// <exception cref="IOException">Missing, not a regular file, unreadable or larger than the limit; the message says which.</exception>
    public static byte[] ReadSmallRegularFile(string path, int limit)
    {
        var fd = open(path, ORdonly | ONonblock | ONoctty | OCloexec);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot open \"{path}\": {Marshal.GetPInvokeErrorMessage(errno)}", errno);
        }

        try
        {
            Span<byte> status = stackalloc byte[StatxSize];
            if (statx(fd, string.Empty, AtEmptyPath, StatxType, ref MemoryMarshal.GetReference(status)) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new IOException($"cannot inspect \"{path}\": {Marshal.GetPInvokeErrorMessage(errno)}", errno);
            }

            var type = TypeOf(status);
            if (type != EntryType.Regular)
            {
                throw new IOException($"\"{path}\" is {(type == EntryType.Directory ? "a directory" : "a FIFO, socket or device")}, not a regular file");
            }

            var buffer = new byte[limit + 1];
            var total = 0;
            while (total < buffer.Length)
            {
                var n = read(fd, ref buffer[total], buffer.Length - total);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    throw new IOException($"cannot read \"{path}\": {Marshal.GetPInvokeErrorMessage(errno)}", errno);
                }

                if (n == 0)
                {
                    break;
                }

                total += (int)n;
            }

            return total > limit
                ? throw new IOException($"\"{path}\" is larger than {limit} bytes")
                : buffer[..total];
        }
        finally
        {
            _ = close(fd);
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

    private static EntryType TypeOf(ReadOnlySpan<byte> statxBuffer) =>
        (BinaryPrimitives.ReadUInt16LittleEndian(statxBuffer[StatxModeOffset..]) & 0xF000) switch
        {
            0x8000 => EntryType.Regular,
            0x4000 => EntryType.Directory,
            0xA000 => EntryType.SymbolicLink,
            _ => EntryType.Other,
        };

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rename(string oldpath, string newpath);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat2(int olddirfd, string oldpath, int newdirfd, string newpath, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int statx(int dirfd, string pathname, int flags, uint mask, ref byte statxbuf);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdir(string pathname, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fchmod(int fd, int mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string pathname, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint read(int fd, ref byte buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);
}
