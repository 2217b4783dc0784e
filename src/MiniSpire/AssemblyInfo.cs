using System.Runtime.Versioning;

// MiniSpire runs on Linux: Unix sockets with file modes, and (for the agent) SO_PEERCRED and /proc.
[assembly: SupportedOSPlatform("linux")]
