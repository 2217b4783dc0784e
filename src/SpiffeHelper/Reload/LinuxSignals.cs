namespace SpiffeHelper.Reload;

/// <summary>
/// The signal names <c>renew_signal</c> accepts: exactly the names the Go tool accepts on Linux, the 31 standard
/// signals of golang.org/x/sys/unix's signal table (what its <c>unix.SignalNum</c> looks up), spelled with the
/// <c>SIG</c> prefix and in capitals, with their x86-64 and arm64 numbers. No aliases (SIGIOT, SIGPOLL, SIGCLD)
/// and no real-time signals: the Go tool would not accept them either.
/// </summary>
internal static class LinuxSignals
{
    public static IReadOnlyList<(string Name, int Number)> All { get; } =
    [
        ("SIGHUP", 1), ("SIGINT", 2), ("SIGQUIT", 3), ("SIGILL", 4), ("SIGTRAP", 5), ("SIGABRT", 6), ("SIGBUS", 7),
        ("SIGFPE", 8), ("SIGKILL", 9), ("SIGUSR1", 10), ("SIGSEGV", 11), ("SIGUSR2", 12), ("SIGPIPE", 13),
        ("SIGALRM", 14), ("SIGTERM", 15), ("SIGSTKFLT", 16), ("SIGCHLD", 17), ("SIGCONT", 18), ("SIGSTOP", 19),
        ("SIGTSTP", 20), ("SIGTTIN", 21), ("SIGTTOU", 22), ("SIGURG", 23), ("SIGXCPU", 24), ("SIGXFSZ", 25),
        ("SIGVTALRM", 26), ("SIGPROF", 27), ("SIGWINCH", 28), ("SIGIO", 29), ("SIGPWR", 30), ("SIGSYS", 31),
    ];
}
