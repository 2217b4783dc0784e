// Each test runs a server, an agent and a helper as processes: one test at a time on a 2-core machine.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
