using System.CommandLine;

namespace ClusterGate.Cli;

/// <summary>The whole command line, callable in-process (tests) with its own output and error writers.</summary>
public static class ClusterGateCli
{
    /// <summary>Exit codes: 0 done, 1 the cluster or a port could not be reached or bound, 2 bad command line or settings.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var root = new RootCommand("ClusterGate: a Redis Cluster gateway with shard ports that follow their master and a slot-routing port for non-cluster clients.");
        root.Subcommands.Add(TopologyCommand.Create());
        root.Subcommands.Add(RunCommand.Create(error));
        root.Subcommands.Add(StatusCommand.Create(output, error));

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var problem in parse.Errors)
            {
                await error.WriteLineAsync($"clustergate: {problem.Message}");
            }

            return 2;
        }

        // ProcessTerminationTimeout = null: `run` registers SIGINT/SIGTERM itself, so that shutdown
        // drains for as long as the drain bound says instead of System.CommandLine's fixed grace period.
        return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error, ProcessTerminationTimeout = null });
    }
}
