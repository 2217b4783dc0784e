using System.Runtime.Versioning;

[assembly: SupportedOSPlatform("linux")]

// Integration tests each run a server; two at a time is what a 2-core machine takes.
[assembly: CollectionBehavior(MaxParallelThreads = 2)]
