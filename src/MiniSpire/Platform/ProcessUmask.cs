using System.Runtime.InteropServices;

namespace MiniSpire.Platform;

/// <summary>
/// The process umask, tightened at start-up as SPIRE does (<c>pkg/common/cli/umask_posix.go</c>): at least
/// 027, so nothing MiniSpire or a library creates is group-writable or readable by others, whatever the
/// umask it was started with.
/// </summary>
internal static partial class ProcessUmask
{
    /// <summary>SPIRE's minimum umask: no group write, nothing for others.</summary>
    public const uint Minimum = 0b000_010_111;

    /// <summary>The umask the process was started with, when <see cref="Tighten"/> had to change it; else null.</summary>
    public static uint? LooserUmaskReplaced { get; private set; }

    /// <summary>Adds <see cref="Minimum"/>'s bits to the umask; remembers the old one when it lacked some.</summary>
    public static void Tighten()
    {
        var current = umask(Minimum);
        _ = umask(current | Minimum);
        if ((current & Minimum) != Minimum)
        {
            LooserUmaskReplaced = current;
        }
    }

    [LibraryImport("libc")]
    private static partial uint umask(uint mask);
}
