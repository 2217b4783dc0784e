using Spiffe.WorkloadApi;

namespace SpiffeHelper.Config;

internal static partial class ConfigLoader
{
    /// <summary>The process seam's result: where the agent is, what to start and signal, how long to wait.</summary>
    private sealed record ProcessSettings(
        WorkloadApiAddress? AgentAddress,
        string? Cmd,
        IReadOnlyList<string> CmdArgs,
        RestartPolicy RestartPolicy,
        TimeSpan StopTimeout,
        string? PidFileName,
        RenewSignal? RenewSignal,
        TimeSpan OneShotTimeout);

    private sealed partial class Validator
    {
        private ProcessSettings Process(HelperConfigFile model, bool daemonMode)
        {
            var agentAddress = AgentAddress(model);
            var cmd = Expand("cmd", model.Cmd).NullIfEmpty();
            var cmdArgsText = Expand("cmd_args", model.CmdArgs);
            var pidFileName = Expand("pid_file_name", model.PidFileName).NullIfEmpty();
            var renewSignalText = Expand("renew_signal", model.RenewSignal);
            var restartText = Expand("cmd_restart_policy", model.CmdRestartPolicy);
            var stopTimeoutText = Expand("cmd_stop_timeout", model.CmdStopTimeout);
            var oneShotTimeoutText = Expand("one_shot_timeout", model.OneShotTimeout);

            IReadOnlyList<string> cmdArgs = [];
            if (!string.IsNullOrEmpty(cmdArgsText))
            {
                if (!ConfigValues.TrySplitArguments(cmdArgsText, out cmdArgs, out var splitError))
                {
                    Error("cmd_args", splitError);
                }
                else if (cmd is null)
                {
                    Error("cmd_args", "is set but cmd is not; set cmd to the program to start");
                }
            }

            RenewSignal? renewSignal = null;
            if (!string.IsNullOrEmpty(renewSignalText) && !ConfigValues.TryParseSignal(renewSignalText, out renewSignal))
            {
                Error("renew_signal", $"\"{renewSignalText}\" is not a supported signal name; valid: {ConfigValues.ValidSignalNames}");
            }

            if (pidFileName is not null && string.IsNullOrEmpty(renewSignalText))
            {
                Error("pid_file_name", "is set but renew_signal is not; set renew_signal (for example \"SIGHUP\") to the signal the process reloads on");
            }

            if (!daemonMode)
            {
                // As the Go tool: cmd and renew_signal are ignored with a warning, pid_file_name is refused.
                if (cmd is not null)
                {
                    Warn("cmd", "is set but daemon_mode is false: one-shot mode writes the files and exits without starting cmd (the Go tool ignores it the same way)");
                }

                if (!string.IsNullOrEmpty(renewSignalText))
                {
                    Warn("renew_signal", "is set but daemon_mode is false: one-shot mode sends no signal (the Go tool ignores it the same way)");
                }

                if (pidFileName is not null)
                {
                    Error("pid_file_name", "is set but daemon_mode is false; pid_file_name is only supported in daemon mode (the Go tool refuses it too): remove it from the one-shot config");
                }
            }
            else if (cmd is not null && checkCommand)
            {
                CheckCommand(cmd);
            }

            var restartPolicy = Choice("cmd_restart_policy", restartText, RestartPolicy.OnRenewal, ("on_renewal", RestartPolicy.OnRenewal), ("never", RestartPolicy.Never), ("on_failure", RestartPolicy.OnFailure), ("always", RestartPolicy.Always));
            var stopTimeout = Duration("cmd_stop_timeout", stopTimeoutText, TimeSpan.FromSeconds(10));
            var oneShotTimeout = Duration("one_shot_timeout", oneShotTimeoutText, TimeSpan.FromMinutes(5));
            return new ProcessSettings(
                agentAddress,
                cmd,
                cmdArgs,
                restartPolicy,
                stopTimeout,
                pidFileName is null ? null : Path.GetFullPath(pidFileName, _workingDirectory),
                renewSignal,
                oneShotTimeout);
        }

        private WorkloadApiAddress? AgentAddress(HelperConfigFile model)
        {
            var text = Expand("agent_address", model.AgentAddress);
            try
            {
                if (!string.IsNullOrEmpty(text))
                {
                    return WorkloadApiAddress.Parse(text);
                }

                if (environment(WorkloadApiAddress.EndpointSocketVariable) is { Length: > 0 } fromEnvironment)
                {
                    if (!WorkloadApiAddress.TryParse(fromEnvironment, out var address, out var environmentError))
                    {
                        Error(null, $"agent_address is not set and {WorkloadApiAddress.EndpointSocketVariable} is invalid: {environmentError}");
                    }

                    return address;
                }

                return WorkloadApiAddress.Parse(WorkloadApiAddress.DefaultSocketPath);
            }
            catch (FormatException e)
            {
                Error("agent_address", e.Message);
                return null;
            }
        }

        /// <summary>
        /// <c>cmd</c> must name an executable file, found as Go's <c>exec.Command</c> finds it: a name with a
        /// <c>/</c> is a path (relative to the working directory), any other name is looked up in <c>PATH</c>.
        /// </summary>
        private void CheckCommand(string cmd)
        {
            if (cmd.Contains('/', StringComparison.Ordinal))
            {
                var path = Path.GetFullPath(cmd, _workingDirectory);
                if (ExecutableProblem(path) is { } problem)
                {
                    Error("cmd", $"\"{cmd}\" {problem}; set cmd to the program to start");
                }

                return;
            }

            var searchPath = environment("PATH") ?? string.Empty;
            foreach (var directory in searchPath.Split(':'))
            {
                var candidate = Path.Combine(directory.Length == 0 ? _workingDirectory : Path.GetFullPath(directory, _workingDirectory), cmd);
                if (ExecutableProblem(candidate) is null)
                {
                    return;
                }
            }

            Error("cmd", $"\"{cmd}\" is not an executable file in any directory of PATH ({searchPath}); give its full path or install it");
        }

        private static string? ExecutableProblem(string path)
        {
            try
            {
                if (Directory.Exists(path))
                {
                    return "is a directory, not a program";
                }

                if (!File.Exists(path))
                {
                    return "does not exist";
                }

                const UnixFileMode Execute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
                var mode = File.GetUnixFileMode(path);
                return (mode & Execute) == 0 ? $"is not executable (mode {ConfigValues.FormatMode(mode & (UnixFileMode)0x1FF)})" : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return $"cannot be checked: {e.Message}";
            }
        }
    }
}
