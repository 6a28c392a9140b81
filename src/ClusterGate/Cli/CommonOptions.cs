using System.CommandLine;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;

namespace ClusterGate.Cli;

/// <summary>Options shared by the subcommands.</summary>
internal static class CommonOptions
{
    public static Option<string[]> Seeds() => new("--seed")
    {
        Description = "A cluster node to start discovery from, HOST:PORT. Repeat for more seeds.",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    public static Option<string?> Password() => new("--password")
    {
        Description = "Password for AUTH on every node (or set REDISCLI_AUTH).",
    };

    /// <summary>
    /// The password from the command line, with redis-cli's warning on stderr when there is one: every user of the host
    /// can read a process's arguments (<c>ps</c>, <c>/proc/PID/cmdline</c>).
    /// </summary>
    public static string? PasswordWithWarning(string? password)
    {
        if (password is not null)
        {
            Console.Error.WriteLine("Warning: --password on the command line is visible to every user of this host (ps); set REDISCLI_AUTH or CLUSTERGATE__Password instead.");
        }

        return password;
    }

    public static Option<string?> User() => new("--user")
    {
        Description = "ACL user for AUTH on every node.",
    };

    /// <summary>Parses every seed; returns the problems, one per bad seed.</summary>
    public static List<string> ParseSeeds(IEnumerable<string>? raw, List<NodeEndpoint> seeds)
    {
        var problems = new List<string>();
        foreach (var text in raw ?? [])
        {
            if (EndpointParser.TryParse(text, out var endpoint))
            {
                seeds.Add(endpoint);
            }
            else
            {
                problems.Add($"--seed '{text}': expected HOST:PORT with a port from 1 to 65535");
            }
        }

        if (seeds.Count == 0 && problems.Count == 0)
        {
            problems.Add("--seed: at least one seed is required");
        }

        return problems;
    }
}
