using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using SpiffeHelper.Config;
using SpiffeHelper.Health;

namespace SpiffeHelper.Tests.Health;

/// <summary>The /live and /ready body: the Go tool's fields with its values (pkg/health, pkg/sidecar), ours in "spiffe_helper".</summary>
public sealed class HealthBodyTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 18, 33, 52, TimeSpan.Zero));

    private static (int Status, JsonDocument Json) Get(HealthServer server, string path)
    {
        var (status, body) = server.Respond(path);
        return (status, JsonDocument.Parse(body));
    }

    private static JsonElement GoStatuses(JsonDocument json) => json.RootElement.GetProperty("health").GetProperty("file_write_statuses");

    [Fact]
    public void Respond_X509AndJwt_GoFieldsKeyJwtFilesByCertDirPath()
    {
        var state = new HealthState(["svid.pem", "svid_key.pem", "bundle.pem"], _time);
        state.Track("api.token");
        state.Track("bundle.json");
        var server = new HealthServer(HealthOptions.Default, state, NullLogger<HealthServer>.Instance, null, new HealthOutputs(["svid.pem", "svid_key.pem", "bundle.pem"], "/run/certs"));

        var (status, json) = Get(server, "/ready");
        using (json)
        {
            Assert.Equal(503, status);
            Assert.Equal(["status", "health", "spiffe_helper"], json.RootElement.EnumerateObject().Select(p => p.Name));
            Assert.Equal("Service Unavailable", json.RootElement.GetProperty("status").GetString());
            Assert.Equal(["file_write_statuses"], json.RootElement.GetProperty("health").EnumerateObject().Select(p => p.Name));
            Assert.Equal("unwritten", GoStatuses(json).GetProperty("x509_write_status").GetString());
            var jwt = GoStatuses(json).GetProperty("jwt_write_status");
            Assert.Equal(["/run/certs/api.token", "/run/certs/bundle.json"], jwt.EnumerateObject().Select(p => p.Name));
            Assert.All(jwt.EnumerateObject(), p => Assert.Equal("unwritten", p.Value.GetString()));
            Assert.Equal("not_written", json.RootElement.GetProperty("spiffe_helper").GetProperty("files").GetProperty("api.token").GetString());
        }

        state.Written(_time.GetUtcNow().AddHours(1));
        state.OutputWritten("api.token", _time.GetUtcNow().AddMinutes(5));
        state.OutputWritten("bundle.json", null);
        (status, json) = Get(server, "/ready");
        using (json)
        {
            Assert.Equal(200, status);
            Assert.Equal("OK", json.RootElement.GetProperty("status").GetString());
            Assert.Equal("written", GoStatuses(json).GetProperty("x509_write_status").GetString());
            Assert.Equal("written", GoStatuses(json).GetProperty("jwt_write_status").GetProperty("/run/certs/api.token").GetString());
            var ours = json.RootElement.GetProperty("spiffe_helper");
            Assert.True(ours.GetProperty("live").GetBoolean());
            Assert.True(ours.GetProperty("ready").GetBoolean());
            Assert.Equal("2026-12-02T19:33:52Z", ours.GetProperty("svid_not_after").GetString());
        }
    }

    [Fact]
    public void Respond_JwtOnly_HasNoX509StatusAsTheGoToolOmitsIt()
    {
        var state = new HealthState([], _time);
        state.Track("api.token");
        var server = new HealthServer(HealthOptions.Default, state, NullLogger<HealthServer>.Instance, null, new HealthOutputs([], "/certs"));

        var (_, json) = Get(server, "/live");
        using (json)
        {
            Assert.False(GoStatuses(json).TryGetProperty("x509_write_status", out _));
            Assert.Equal("unwritten", GoStatuses(json).GetProperty("jwt_write_status").GetProperty("/certs/api.token").GetString());
        }
    }

    [Fact]
    public void Respond_NoJwt_StillHasAnEmptyJwtStatusObject()
    {
        var server = new HealthServer(HealthOptions.Default, new HealthState(["svid.pem"], _time), NullLogger<HealthServer>.Instance);

        var (_, json) = Get(server, "/live");
        using (json)
        {
            Assert.Equal(JsonValueKind.Object, GoStatuses(json).GetProperty("jwt_write_status").ValueKind);
            Assert.Empty(GoStatuses(json).GetProperty("jwt_write_status").EnumerateObject());
        }
    }

    [Fact]
    public void Respond_FailedWrite_IsFailedAndNotLiveAsTheGoTool_ARejectedUpdateIsNotAFailedWrite()
    {
        var state = new HealthState([], _time);
        state.Track("api.token");
        state.Track("other.token");
        var server = new HealthServer(HealthOptions.Default, state, NullLogger<HealthServer>.Instance, null, new HealthOutputs([], "/certs"));
        state.OutputWritten("api.token", _time.GetUtcNow().AddMinutes(5));
        state.OutputWritten("other.token", _time.GetUtcNow().AddMinutes(5));

        // A token that fails validation is never written: the Go tool has no status for it; live stays 200.
        state.OutputFailed("other.token", "rejected", "audience mismatch");
        var (liveStatus, live) = Get(server, "/live");
        var (readyStatus, ready) = Get(server, "/ready");
        using (live)
        using (ready)
        {
            Assert.Equal(200, liveStatus);
            Assert.Equal(503, readyStatus);
            Assert.Equal("unwritten", GoStatuses(ready).GetProperty("jwt_write_status").GetProperty("/certs/other.token").GetString());
            Assert.Equal("rejected", ready.RootElement.GetProperty("spiffe_helper").GetProperty("files").GetProperty("other.token").GetString());
            Assert.Equal("other.token: audience mismatch", ready.RootElement.GetProperty("spiffe_helper").GetProperty("reason").GetString());
        }

        state.OutputFailed("api.token", "write_failed", "No space left on device");
        (liveStatus, live) = Get(server, "/live");
        using (live)
        {
            Assert.Equal(503, liveStatus);
            Assert.Equal("Service Unavailable", live.RootElement.GetProperty("status").GetString());
            Assert.Equal("failed", GoStatuses(live).GetProperty("jwt_write_status").GetProperty("/certs/api.token").GetString());
            Assert.False(live.RootElement.GetProperty("spiffe_helper").GetProperty("live").GetBoolean());
        }
    }

    [Fact]
    public void Respond_WorkloadApiUnreachable_ReasonNamesItWhileTheFilesStayValid()
    {
        var state = new HealthState(["svid.pem"], _time);
        var server = new HealthServer(HealthOptions.Default, state, NullLogger<HealthServer>.Instance);
        state.WorkloadApiUnreachable("no Workload API socket at /run/spire/api.sock (No such file or directory)");

        var (notReadyStatus, notReady) = Get(server, "/ready");
        using (notReady)
        {
            Assert.Equal(503, notReadyStatus);
            Assert.Equal("no file written yet: no Workload API socket at /run/spire/api.sock (No such file or directory)", notReady.RootElement.GetProperty("spiffe_helper").GetProperty("reason").GetString());
        }

        state.Written(_time.GetUtcNow().AddHours(1));
        state.WorkloadApiUnreachable("no Workload API socket at /run/spire/api.sock (No such file or directory)");
        var (readyStatus, ready) = Get(server, "/ready");
        using (ready)
        {
            Assert.Equal(200, readyStatus);
            Assert.Equal("no Workload API socket at /run/spire/api.sock (No such file or directory)", ready.RootElement.GetProperty("spiffe_helper").GetProperty("reason").GetString());
        }

        state.WorkloadApiReached();
        var (_, reached) = Get(server, "/ready");
        using (reached)
        {
            Assert.False(reached.RootElement.GetProperty("spiffe_helper").TryGetProperty("reason", out _));
        }
    }
}
