namespace MiniSpire.Cli;

/// <summary>The documented exit codes of every <c>minispire</c> command (README, "Exit codes").</summary>
internal static class ExitCodes
{
    /// <summary>Done; also <c>-h</c>/<c>-help</c> and <c>-version</c>.</summary>
    public const int Success = 0;

    /// <summary>The server or agent answered and refused (invalid entry, already exists, no identity), or a runtime failure.</summary>
    public const int Failure = 1;

    /// <summary>A bad command line (unknown flag or command, missing or invalid value) or a bad config file; nothing was done.</summary>
    public const int UsageOrConfig = 2;

    /// <summary>No server or agent answers on the socket (not running, wrong <c>-socketPath</c>), or it timed out.</summary>
    public const int Unreachable = 3;

    /// <summary>The entry, agent or bundle named does not exist.</summary>
    public const int NotFound = 4;
}
