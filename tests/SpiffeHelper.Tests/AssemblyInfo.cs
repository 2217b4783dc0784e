using System.Runtime.Versioning;

// The helper under test is Linux-only (kill(2), symlink swaps, Unix file modes); so are its tests.
[assembly: SupportedOSPlatform("linux")]
