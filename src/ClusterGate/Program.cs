using ClusterGate.Cli;

// Socket completions run inline on the epoll thread unless the operator chose otherwise: the relay's
// continuations are short and never block, and this cut CPU per command (see README, Benchmarks).
// It must be set before the first socket is created.
if (Environment.GetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS") is null)
{
    Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
}

return await ClusterGateCli.RunAsync(args, Console.Out, Console.Error);
