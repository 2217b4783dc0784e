using System.Runtime.Versioning;

// The helper is a Linux sidecar: it signals with kill(2), swaps symlinks and sets Unix file modes.
[assembly: SupportedOSPlatform("linux")]
