using SpiffeHelper.Config;

namespace SpiffeHelper.Tests.Config;

public sealed class ConfigLoaderTests
{
    private const string File = "/etc/helper/helper.conf";
    private const string Outputs = "svid_file_name = \"svid.pem\"\nsvid_key_file_name = \"svid_key.pem\"\nsvid_bundle_file_name = \"bundle.pem\"\n";

    private static ConfigLoadResult Parse(string text, IReadOnlyDictionary<string, string>? environment = null, bool? daemonMode = null) =>
        ConfigLoader.Parse(text, File, name => environment is not null && environment.TryGetValue(name, out var v) ? v : null, daemonMode, "/work");

    private static ConfigError SingleError(string text, IReadOnlyDictionary<string, string>? environment = null)
    {
        var result = Parse(text, environment);
        Assert.Null(result.Options);
        return Assert.Single(result.Errors);
    }

    [Fact]
    public void Parse_MinimalFile_AppliesTheGoToolsDefaults()
    {
        var result = Parse(Outputs);

        var options = Assert.IsType<HelperOptions>(result.Options);
        Assert.Empty(result.Errors);
        Assert.Equal("/tmp/spire-agent/public/api.sock", options.AgentAddress.SocketPath);
        Assert.Equal("/work", options.CertDir);
        Assert.True(options.DaemonMode);
        Assert.Equal("0644", ConfigValues.FormatMode(options.CertFileMode));
        Assert.Equal("0600", ConfigValues.FormatMode(options.KeyFileMode));
        Assert.Equal(WriteStrategy.AtomicDir, options.WriteStrategy);
        Assert.Equal(RestartPolicy.OnRenewal, options.CmdRestartPolicy);
        Assert.False(options.Health.Enabled);
        Assert.Equal(8081, options.Health.BindPort);
        Assert.Equal("/live", options.Health.LivenessPath);
        Assert.Equal("/ready", options.Health.ReadinessPath);
        Assert.Equal(TimeSpan.FromMinutes(5), options.OneShotTimeout);
    }

    [Fact]
    public void Parse_FullFile_ReadsEveryKey()
    {
        var text = """
            agent_address = "unix:///run/spire/${SOCK}"
            cmd = "/usr/bin/ghostunnel"
            cmd_args = "server --listen \"localhost:8002\" --target ${TARGET}"
            cmd_restart_policy = "on_failure"
            cmd_stop_timeout = "3s"
            pid_file_name = "app.pid"
            cert_dir = "certs"
            renew_signal = "SIGUSR1"
            svid_file_name = "svid.pem"
            svid_key_file_name = "svid_key.pem"
            svid_bundle_file_name = "bundle.pem"
            add_intermediates_to_bundle = true
            include_federated_domains = true
            omit_expired = true
            cert_file_mode = 0o640
            key_file_mode = "0400"
            hint = "internal"
            daemon_mode = false
            one_shot_timeout = "1m30s"
            write_strategy = "rename"
            log_level = "debug"
            log_format = "json"

            [health_checks]
            listener_enabled = true
            bind_port = 9090
            liveness_path = "/healthz"
            readiness_path = "/readyz"
            metrics_path = "/prometheus"
            """;

        var result = Parse(text, new Dictionary<string, string> { ["SOCK"] = "api.sock", ["TARGET"] = "localhost:8001" }, daemonMode: true);

        Assert.Empty(result.Errors);
        var options = result.Options!;
        Assert.Equal("/run/spire/api.sock", options.AgentAddress.SocketPath);
        Assert.Equal(["server", "--listen", "localhost:8002", "--target", "localhost:8001"], options.CmdArgs);
        Assert.Equal(RestartPolicy.OnFailure, options.CmdRestartPolicy);
        Assert.Equal(TimeSpan.FromSeconds(3), options.CmdStopTimeout);
        Assert.Equal("/work/app.pid", options.PidFileName);
        Assert.Equal("/work/certs", options.CertDir);
        Assert.Equal(new RenewSignal("SIGUSR1", 10), options.RenewSignal);
        Assert.True(options.X509!.AddIntermediatesToBundle);
        Assert.True(options.X509.IncludeFederatedDomains);
        Assert.True(options.OmitExpired);
        Assert.Equal("0640", ConfigValues.FormatMode(options.CertFileMode));
        Assert.Equal("0400", ConfigValues.FormatMode(options.KeyFileMode));
        Assert.Equal("internal", options.Hint);
        Assert.True(options.DaemonMode); // the command line wins over the file
        Assert.Equal(TimeSpan.FromSeconds(90), options.OneShotTimeout);
        Assert.Equal(WriteStrategy.Rename, options.WriteStrategy);
        Assert.Equal(LogFormat.Json, options.LogFormat);
        Assert.Equal(new HealthOptions(true, 9090, "/healthz", "/readyz", "/prometheus"), options.Health);
    }

    [Fact]
    public void Parse_AgentAddressUnset_FallsBackToSpiffeEndpointSocket()
    {
        var result = Parse(Outputs, new Dictionary<string, string> { ["SPIFFE_ENDPOINT_SOCKET"] = "unix:///run/agent.sock" });

        Assert.Equal("/run/agent.sock", result.Options!.AgentAddress.SocketPath);
    }

    [Theory]
    [InlineData("agent_adress = \"/x\"", "agent_adress", "did you mean \"agent_address\"")]
    [InlineData("renewsignal = \"SIGHUP\"", "renewsignal", "did you mean \"renew_signal\"")]
    [InlineData("jwt_svid = []", "jwt_svid", "did you mean \"jwt_svids\"")]
    [InlineData("[health_checks]\nbind_prot = 1", "health_checks.bind_prot", "did you mean \"bind_port\"")]
    [InlineData("[health_check]\nbind_port = 1", "health_check", "did you mean \"health_checks\"")]
    public void Parse_UnknownKey_NamesItAndTheNearestValidKey(string line, string key, string reason)
    {
        var error = SingleError(Outputs + line);

        Assert.Equal(File, error.File);
        Assert.Equal(key, error.Key);
        Assert.NotNull(error.Line);
        Assert.Contains(reason, error.Reason);
        Assert.Contains($"{File}:{error.Line}: key \"{key}\"", error.ToString());
    }

    [Fact]
    public void Parse_BadSignal_ListsTheValidNames()
    {
        var error = SingleError(Outputs + "renew_signal = \"SIGHUPP\"");

        Assert.Equal("renew_signal", error.Key);
        Assert.Equal(4, error.Line);
        Assert.Contains("\"SIGHUPP\" is not a supported signal name", error.Reason);
        Assert.Contains("SIGHUP, SIGINT", error.Reason);
    }

    [Theory]
    [InlineData("cert_file_mode = 0o1644", "cert_file_mode", "0o1644 is not a file mode")]
    [InlineData("key_file_mode = \"rw-------\"", "key_file_mode", "\"rw-------\" is not a file mode")]
    [InlineData("key_file_mode = \"0689\"", "key_file_mode", "\"0689\" is not a file mode")]
    [InlineData("key_file_mode = true", "key_file_mode", "must be a file mode, written 0o644 or \"0644\"")]
    public void Parse_BadMode_NamesTheKeyAndTheValidForms(string line, string key, string reason)
    {
        var error = SingleError(Outputs + line);

        Assert.Equal(key, error.Key);
        Assert.Contains(reason, error.Reason);
    }

    [Theory]
    [InlineData("write_strategy = \"copy\"", "write_strategy", "atomic_dir, rename")]
    [InlineData("log_format = \"xml\"", "log_format", "text, json")]
    [InlineData("log_level = \"loud\"", "log_level", "trace, debug, info, warn, error")]
    [InlineData("cmd_restart_policy = \"sometimes\"", "cmd_restart_policy", "on_renewal, never, on_failure, always")]
    [InlineData("one_shot_timeout = \"soon\"", "one_shot_timeout", "\"30s\"")]
    [InlineData("daemon_mode = \"false\"", "daemon_mode", "must be a boolean")]
    [InlineData("agent_address = \"http://agent:8081\"", "agent_address", "scheme must be \"unix\" or \"tcp\"")]
    [InlineData("cmd = \"/bin/app\"\ncmd_args = \"--name \\\"unclosed\"", "cmd_args", "is not closed")]
    [InlineData("pid_file_name = \"/run/app.pid\"", "pid_file_name", "renew_signal is not")]
    [InlineData("[health_checks]\nbind_port = 70000", "health_checks.bind_port", "1 to 65535")]
    [InlineData("[health_checks]\nliveness_path = \"live\"", "health_checks.liveness_path", "starting with \"/\"")]
    [InlineData("[health_checks]\nmetrics_path = \"metrics\"", "health_checks.metrics_path", "starting with \"/\", or \"\" to serve no metrics")]
    [InlineData("[health_checks]\nmetrics_path = \"/ready\"", "health_checks.metrics_path", "must differ from liveness_path and readiness_path")]
    public void Parse_BadValue_NamesTheKeyAndWhatIsValid(string line, string key, string valid)
    {
        var error = SingleError(Outputs + line);

        Assert.Equal(key, error.Key);
        Assert.Contains(valid, error.Reason);
    }

    [Fact]
    public void Parse_HalfConfiguredOutputs_NamesTheMissingKeys()
    {
        var error = SingleError("svid_file_name = \"svid.pem\"\nsvid_bundle_file_name = \"bundle.pem\"");

        Assert.Equal("svid_file_name", error.Key);
        Assert.Contains("half-configured", error.Reason);
        Assert.Contains("svid_key_file_name not", error.Reason);
    }

    [Fact]
    public void Parse_NoOutput_SaysWhichKeysToSet()
    {
        var error = SingleError("cert_dir = \"/certs\"");

        Assert.Null(error.Key);
        Assert.Contains("no output is configured", error.Reason);
        Assert.Contains("svid_file_name, svid_key_file_name and svid_bundle_file_name", error.Reason);
    }

    [Fact]
    public void Parse_UnsetEnvironmentVariable_NamesIt()
    {
        var error = SingleError(Outputs + "cert_dir = \"/certs/${POD_NAME}\"");

        Assert.Equal("cert_dir", error.Key);
        Assert.Contains("environment variable \"POD_NAME\" is not set", error.Reason);
    }

    [Fact]
    public void Parse_GoHclFile_LoadsAsHcl()
    {
        var hcl = """
            agent_address = "/tmp/spire-agent/public/api.sock"
            cert_file_mode = 0640
            health_checks {
              listener_enabled = true
            }
            """;

        var result = Parse(Outputs + hcl);

        Assert.Empty(result.Errors);
        Assert.Equal(ConfigSyntax.Hcl, result.Syntax);
        Assert.Equal("0640", ConfigValues.FormatMode(result.Options!.CertFileMode));
        Assert.True(result.Options.Health.Enabled);
    }

    [Fact]
    public void Parse_ManyProblems_ReportsEveryOneAtOnce()
    {
        var text = """
            svid_file_name = "svid.pem"
            renew_signal = "HUP"
            cert_file_mode = "0999"
            write_strategy = "inplace"
            cert_dir = "${NOPE}"
            omit_expired = "yes"
            hnt = "db"
            """;

        var result = Parse(text);

        Assert.Null(result.Options);
        Assert.Equal(["cert_dir", "cert_file_mode", "hnt", "omit_expired", "renew_signal", "svid_file_name", "write_strategy"], result.Errors.Select(e => e.Key!).Order(StringComparer.Ordinal));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], result.Errors.Select(e => e.Line!.Value));
    }

    [Fact]
    public void Parse_SameNameTwice_IsAnError()
    {
        var error = SingleError("svid_file_name = \"a.pem\"\nsvid_key_file_name = \"a.pem\"\nsvid_bundle_file_name = \"b.pem\"");

        Assert.Equal("svid_key_file_name", error.Key);
        Assert.Contains("\"a.pem\" is also the file name of svid_file_name", error.Reason);
    }
}
