namespace SpiffeHelper;

/// <summary>The documented exit codes.</summary>
internal static class ExitCodes
{
    /// <summary>Success, or stopped by SIGTERM/SIGINT.</summary>
    public const int Success = 0;

    /// <summary>A runtime failure: a fatal Workload API error (InvalidArgument, Unimplemented) or an unexpected error.</summary>
    public const int RuntimeFailure = 1;

    /// <summary>A bad command line or config file; nothing was started.</summary>
    public const int ConfigError = 2;

    /// <summary>One-shot mode: no valid SVID arrived within one_shot_timeout.</summary>
    public const int OneShotTimeout = 3;

    /// <summary>One-shot mode: a valid SVID arrived but the files could not be written within one_shot_timeout.</summary>
    public const int OneShotWriteFailed = 4;
}
