using System.Runtime.Versioning;

// The manifests run on Linux nodes, and the helper whose config loader checks them is Linux-only.
[assembly: SupportedOSPlatform("linux")]
