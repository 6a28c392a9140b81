using ClusterGate.Cli;

return await ClusterGateCli.RunAsync(args, Console.Out, Console.Error);
