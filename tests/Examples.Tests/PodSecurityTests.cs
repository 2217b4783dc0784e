using System.Text.Json;

namespace Examples.Tests;

/// <summary>
/// The namespace of the applications enforces the restricted Pod Security Standard, so every pod there
/// (the applications too, not only the helper) must pass it or the API server rejects it. These are
/// the standard's checks, as far as a manifest shows them.
/// </summary>
public sealed class PodSecurityTests
{
    private static readonly string[] RestrictedVolumeTypes =
        ["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"];

    [Fact]
    public async Task Workloads_RestrictedNamespace_PassTheRestrictedStandard()
    {
        var all = await Manifest.AllAsync();
        var restricted = all
            .Where(d => Manifest.Text(d, "kind") == "Namespace")
            .Where(n => Manifest.Text(n, "metadata", "labels", "pod-security.kubernetes.io/enforce") == "restricted")
            .Select(n => Manifest.Text(n, "metadata", "name"))
            .ToList();
        var workloads = all.Where(Manifest.IsWorkload).Where(w => restricted.Contains(Manifest.Text(w, "metadata", "namespace"))).ToList();

        Assert.Equal(["spiffe-demo"], restricted);
        Assert.Equal(2, workloads.Count);
        foreach (var workload in workloads)
        {
            var pod = Manifest.PodSpec(workload);
            Assert.NotEqual(true, Manifest.Flag(pod, "hostPID"));
            Assert.NotEqual(true, Manifest.Flag(pod, "hostIPC"));
            Assert.NotEqual(true, Manifest.Flag(pod, "hostNetwork"));
            Assert.All(Manifest.Items(pod, "volumes"), volume =>
                Assert.Contains(volume.EnumerateObject().Single(p => p.Name != "name").Name, RestrictedVolumeTypes));
            Assert.All(Manifest.AllContainers(pod), container => AssertRestricted(pod, container));
        }
    }

    private static void AssertRestricted(JsonElement pod, JsonElement container)
    {
        var name = Manifest.Text(container, "name");
        var context = Manifest.Find(container, "securityContext") ?? default;
        var podContext = Manifest.Find(pod, "securityContext") ?? default;

        Assert.True(Manifest.Flag(context, "allowPrivilegeEscalation") == false, $"{name}: allowPrivilegeEscalation must be false");
        Assert.NotEqual(true, Manifest.Flag(context, "privileged"));
        Assert.Contains("ALL", Manifest.Strings(context, "capabilities", "drop"));
        Assert.All(Manifest.Strings(context, "capabilities", "add"), add => Assert.Equal("NET_BIND_SERVICE", add));
        Assert.True((Manifest.Flag(context, "runAsNonRoot") ?? Manifest.Flag(podContext, "runAsNonRoot")) == true, $"{name}: runAsNonRoot");
        Assert.NotEqual(0, Manifest.Find(context, "runAsUser")?.GetInt32() ?? Manifest.Find(podContext, "runAsUser")?.GetInt32());
        Assert.Contains(
            Manifest.Text(context, "seccompProfile", "type") ?? Manifest.Text(podContext, "seccompProfile", "type"),
            new[] { "RuntimeDefault", "Localhost" });
        Assert.All(Manifest.Items(container, "ports"), port => Assert.Null(Manifest.Find(port, "hostPort")));
    }
}
