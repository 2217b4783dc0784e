using MiniSpire.Cli;
using MiniSpire.Platform;

// As SPIRE: at least umask 027 before anything is created (logged by the server and agent when changed).
ProcessUmask.Tighten();

return await MiniSpireCli.RunAsync(args, Console.Out, Console.Error);
