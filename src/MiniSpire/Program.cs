using MiniSpire.Cli;

return await MiniSpireCli.RunAsync(args, Console.Out, Console.Error);
