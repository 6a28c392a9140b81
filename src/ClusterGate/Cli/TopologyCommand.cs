using System.CommandLine;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;
using ClusterGate.Json;

namespace ClusterGate.Cli;

/// <summary><c>clustergate topology</c>: discover once and print the shard groups.</summary>
internal static class TopologyCommand
{
    public static Command Create()
    {
        var seeds = CommonOptions.Seeds();
        var json = new Option<bool>("--json") { Description = "Print JSON: {\"groups\":[{\"id\",\"master\",\"replicas\",\"slots\",\"confirmed\"}]}." };
        var user = CommonOptions.User();
        var password = CommonOptions.Password();
        var command = new Command("topology", "Discover the cluster from the seeds and print each shard group: master, replicas, slots, and whether INFO replication confirms the roles.")
        {
            seeds, json, user, password,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(seeds), parse.GetValue(json), parse.GetValue(user), CommonOptions.PasswordWithWarning(parse.GetValue(password)), ct));
        return command;
    }

    private static async Task<int> RunAsync(string[]? rawSeeds, bool json, string? user, string? password, CancellationToken cancellationToken)
    {
        var seeds = new List<NodeEndpoint>();
        var problems = CommonOptions.ParseSeeds(rawSeeds, seeds);
        if (problems.Count > 0)
        {
            foreach (var problem in problems)
            {
                await Console.Error.WriteLineAsync($"clustergate: {problem}");
            }

            return 2;
        }

        var options = new TopologyMonitorOptions
        {
            Seeds = seeds,
            User = user,
            Password = password ?? Environment.GetEnvironmentVariable("REDISCLI_AUTH"),
        };
        await using var monitor = new TopologyMonitor(options);
        TopologySnapshot snapshot;
        try
        {
            snapshot = await monitor.DiscoverAsync(cancellationToken);
        }
        catch (TopologyDiscoveryException ex)
        {
            await Console.Error.WriteLineAsync($"clustergate: {ex.Message}");
            return 1;
        }

        if (json)
        {
            await using var stdout = Console.OpenStandardOutput();
            TopologyJson.Write(stdout, snapshot);
            await stdout.WriteAsync("\n"u8.ToArray(), cancellationToken);
        }
        else
        {
            Console.Write(Format(snapshot));
        }

        return 0;
    }

    internal static string Format(TopologySnapshot snapshot)
    {
        var text = new System.Text.StringBuilder();
        foreach (var group in snapshot.Groups)
        {
            var master = group.Master;
            text.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"group {group.Id}  master {master?.Announced.ToString() ?? "-"} ({master?.Id ?? "-"})  {(group.MasterConfirmed ? "confirmed" : "NOT CONFIRMED")}{(master?.IsDown == true ? " DOWN" : string.Empty)}\n");
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"  slots     {(group.Slots.IsDefaultOrEmpty ? "-" : string.Join(' ', group.Slots))}\n");
            foreach (var replica in group.Replicas)
            {
                var link = replica.Replication is { Role: ReplicationRole.Replica } r ? (r.MasterLinkUp ? "link up" : "link down") : "role unconfirmed";
                text.Append(System.Globalization.CultureInfo.InvariantCulture,
                    $"  replica   {replica.Announced} ({replica.Id}) {link}{(replica.IsDown ? " DOWN" : string.Empty)}\n");
            }
        }

        if (!snapshot.AllSlotsCovered)
        {
            text.Append("warning: not every slot is served\n");
        }

        return text.ToString();
    }
}
