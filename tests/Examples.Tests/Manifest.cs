using System.Text.Json;

namespace Examples.Tests;

/// <summary>Navigation over parsed manifests (JSON, as the validator's YAML parser reads them).</summary>
internal static class Manifest
{
    public static async Task<JsonElement> SingleAsync(string file, string kind, string? name = null)
    {
        var documents = await ManifestValidator.ReadDocumentsAsync(file);
        return Assert.Single(documents, d => Text(d, "kind") == kind && (name is null || Text(d, "metadata", "name") == name));
    }

    public static async Task<IReadOnlyList<JsonElement>> AllAsync()
    {
        var all = new List<JsonElement>();
        foreach (var file in ManifestValidator.ExampleManifests())
        {
            all.AddRange(await ManifestValidator.ReadDocumentsAsync(file));
        }

        return all;
    }

    public static JsonElement? Find(JsonElement element, params string[] path)
    {
        foreach (var name in path)
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(name, out element))
            {
                return null;
            }
        }

        return element;
    }

    public static JsonElement Get(JsonElement element, params string[] path) =>
        Find(element, path) ?? throw new KeyNotFoundException($"no {string.Join('.', path)}");

    public static string? Text(JsonElement element, params string[] path) =>
        Find(element, path) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    public static bool? Flag(JsonElement element, params string[] path) =>
        Find(element, path) is { ValueKind: JsonValueKind.True or JsonValueKind.False } value ? value.GetBoolean() : null;

    public static IEnumerable<JsonElement> Items(JsonElement element, params string[] path) =>
        Find(element, path) is { ValueKind: JsonValueKind.Array } array ? array.EnumerateArray() : [];

    public static JsonElement PodSpec(JsonElement workload) => Get(workload, "spec", "template", "spec");

    /// <summary>Init containers then containers, the order the kubelet starts them.</summary>
    public static IEnumerable<JsonElement> AllContainers(JsonElement podSpec) =>
        Items(podSpec, "initContainers").Concat(Items(podSpec, "containers"));

    public static bool IsWorkload(JsonElement document) =>
        Text(document, "kind") is "Deployment" or "StatefulSet" or "DaemonSet" or "Job" or "Pod";

    public static IEnumerable<string> Strings(JsonElement element, params string[] path) =>
        Items(element, path).Select(item => item.GetString() ?? "");

    public static JsonElement Volume(JsonElement podSpec, string name) =>
        Assert.Single(Items(podSpec, "volumes"), v => Text(v, "name") == name);

    public static JsonElement MountAt(JsonElement container, string mountPath) =>
        Assert.Single(Items(container, "volumeMounts"), m => Text(m, "mountPath") == mountPath);

    /// <summary>The containerPort of a named port of the container.</summary>
    public static int Port(JsonElement container, JsonElement port) =>
        port.ValueKind == JsonValueKind.Number
            ? port.GetInt32()
            : Get(Assert.Single(Items(container, "ports"), p => Text(p, "name") == port.GetString()), "containerPort").GetInt32();
}
