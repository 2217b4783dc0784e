using Microsoft.Extensions.Logging;

namespace MiniSpire.Platform;

/// <summary>
/// The directories MiniSpire keeps secrets or sockets in, checked and prepared before anything is written or
/// bound there. One rule for the server and the agent:
/// <list type="bullet">
/// <item>A data directory (CA and agent keys) is created 0700. An existing one that others can write
/// (e.g. <c>/tmp</c>) is refused; one that others can only read or enter (e.g. 0755) is tightened to 0700.
/// Existing files in it that others can read are made 0600. Every change is logged.</item>
/// <item>A socket's directory that does not exist is created (0700 for an admin socket, 0755 for the
/// Workload API, which other users' workloads must reach). An existing one is never chmodded: it may be
/// shared, like <c>/tmp</c>. It is refused when others can write to it without the sticky bit, since any of
/// them could then replace the socket with their own (SPIRE itself only creates a missing directory).</item>
/// </list>
/// </summary>
internal static partial class OwnerOnlyPaths
{
    public const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    public const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>0755: the Workload API socket's directory, which every workload must be able to enter.</summary>
    public const UnixFileMode PublicDirectory = OwnerOnlyDirectory
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    private const UnixFileMode AnyAccessByOthers = (UnixFileMode)0b000_111_111;

    /// <summary>
    /// Makes <paramref name="directory"/> a private data directory (see the class summary); returns what was
    /// changed, one sentence each, for the caller to log once its logger exists.
    /// </summary>
    /// <exception cref="IOException">The directory is writable by other users.</exception>
    public static IReadOnlyList<string> PrepareDataDirectory(string directory, string what)
    {
        var changes = new List<string>();
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, OwnerOnlyDirectory);
            return changes;
        }

        var mode = File.GetUnixFileMode(directory);
        if ((mode & WritableByOthers) != 0)
        {
            throw new IOException($"{what} \"{directory}\" is writable by other users (mode {Octal(mode)}): MiniSpire keeps private keys there. Use a directory of its own (it is created 0700 when missing).");
        }

        if ((mode & AnyAccessByOthers) != 0)
        {
            File.SetUnixFileMode(directory, OwnerOnlyDirectory);
            changes.Add($"{what} \"{directory}\" was mode {Octal(mode)}, readable by other users; set it to 0700");
        }

        foreach (var file in Directory.EnumerateFiles(directory))
        {
            var fileMode = File.GetUnixFileMode(file);
            if ((fileMode & AnyAccessByOthers) != 0)
            {
                File.SetUnixFileMode(file, OwnerOnlyFile);
                changes.Add($"\"{file}\" was mode {Octal(fileMode)}, readable by other users; set it to 0600");
            }
        }

        return changes;
    }

    /// <summary>
    /// Prepares the directory of <paramref name="socketPath"/> (see the class summary) and removes a stale
    /// socket file. Nothing existing is ever changed, so there is nothing to log.
    /// </summary>
    /// <exception cref="IOException">The directory is writable by other users and has no sticky bit.</exception>
    public static void PrepareSocketDirectory(string socketPath, UnixFileMode modeIfCreated, string what)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(socketPath))!;
        if (!Directory.Exists(directory))
        {
            CreateWithExactMode(directory, modeIfCreated);
        }
        else
        {
            var mode = File.GetUnixFileMode(directory);
            if ((mode & WritableByOthers) != 0 && (mode & UnixFileMode.StickyBit) == 0)
            {
                throw new IOException($"the directory \"{directory}\" of the {what} {socketPath} is writable by other users without the sticky bit (mode {Octal(mode)}): any of them could replace the socket. Use a directory only MiniSpire's user can write, or a sticky one such as /tmp.");
            }
        }

        if (File.Exists(socketPath))
        {
            File.Delete(socketPath);
        }
    }

    /// <summary>
    /// Creates <paramref name="directory"/> and its missing parents with exactly <paramref name="mode"/>
    /// (<see cref="Directory.CreateDirectory(string, UnixFileMode)"/> filters it through the umask, which
    /// would leave a 0755 directory 0750 under SPIRE's umask 027).
    /// </summary>
    private static void CreateWithExactMode(string directory, UnixFileMode mode)
    {
        var missing = new Stack<string>();
        for (var current = directory; !string.IsNullOrEmpty(current) && !Directory.Exists(current); current = Path.GetDirectoryName(current))
        {
            missing.Push(current);
        }

        foreach (var created in missing)
        {
            Directory.CreateDirectory(created, mode);
            File.SetUnixFileMode(created, mode);
        }
    }

    /// <summary>Logs each change <see cref="PrepareDataDirectory"/> made, and the umask <see cref="ProcessUmask.Tighten"/> replaced.</summary>
    public static void LogChanges(ILogger logger, IEnumerable<string> changes)
    {
        foreach (var change in changes)
        {
            LogChanged(logger, change);
        }

        if (ProcessUmask.LooserUmaskReplaced is { } umask)
        {
            LogUmaskTightened(logger, Octal((UnixFileMode)umask), Octal((UnixFileMode)(umask | ProcessUmask.Minimum)));
        }
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0xFFF, 8).PadLeft(3, '0');

    [LoggerMessage(EventId = 900, Level = LogLevel.Warning, Message = "File permissions: {Change}.")]
    private static partial void LogChanged(ILogger logger, string change);

    [LoggerMessage(EventId = 901, Level = LogLevel.Warning, Message = "The umask {Umask} was too permissive; set it to {Tightened}.")]
    private static partial void LogUmaskTightened(ILogger logger, string umask, string tightened);
}
