using System.Collections.Frozen;
using System.Collections.Immutable;
using ClusterGate.Core.Backends.InFlight;

namespace ClusterGate.Core.Routing.Commands;

/// <summary>How the router port treats a command.</summary>
internal enum RouterDisposition : byte
{
    /// <summary>Sent to the master of its keys' slot (or any master when keyless) on a shared connection.</summary>
    Shared,

    /// <summary>Answered by the gateway itself (PING, ECHO, SELECT, CLIENT SETNAME, HELLO...).</summary>
    Local,

    /// <summary>Keys of several slots: split per slot and merged (Redis's <c>request_policy:multi_shard</c>).</summary>
    Split,

    /// <summary>Sent to every master (<c>request_policy:all_shards</c>) and merged by its <c>response_policy</c>.</summary>
    AllMasters,

    /// <summary>Sent to every node, replicas too (<c>request_policy:all_nodes</c>).</summary>
    AllNodes,

    /// <summary>Handled by the router's own code (SCAN's cursor, INFO's merge, CONFIG GET from one master).</summary>
    Special,

    /// <summary>MULTI, EXEC, DISCARD, WATCH, UNWATCH: a transaction, sent as one batch, or on the client's own connection when watched.</summary>
    Transaction,

    /// <summary>
    /// Blocks the connection it runs on (BLPOP, XREAD BLOCK, WAIT), or is unknown to the gateway's table (a module):
    /// runs on a connection of the client's own for its duration, never on a shared one.
    /// </summary>
    Dedicated,

    /// <summary>Subscribes or unsubscribes: the client's own subscriber connections, which follow failovers.</summary>
    PubSub,

    /// <summary>MONITOR: streams from every master.</summary>
    Monitor,

    /// <summary>Refused: it would change a node for everyone (replication, shutdown, failover, DEBUG), or cannot work through a gateway.</summary>
    Refused,
}

/// <summary>How replies of parts are merged (Redis's <c>response_policy</c> tips).</summary>
internal enum ResponsePolicy : byte
{
    /// <summary>No tip: the command's own merge (split commands) or the first part.</summary>
    Default,
    AllSucceeded,
    OneSucceeded,
    AggregateSum,
    AggregateLogicalAnd,
    AggregateLogicalOr,
    AggregateMin,
    AggregateMax,
    Special,
}

/// <summary>
/// What a command does besides its result, for both frontends, from one table: the effect on the connection it runs
/// on (<see cref="Kind"/>: what a shard port replays after a failover, what it rewrites), whether it may be sent
/// again when its outcome is unknown (<see cref="Resendable"/>: Redis flags it read-only, not write, not blocking),
/// and the router's <see cref="Router"/> disposition. Derived from Redis's own flags and tips, plus the short
/// explicit table below for what those do not say.
/// </summary>
internal readonly record struct CommandTraits(
    CommandKind Kind, bool Resendable, RouterDisposition Router, ResponsePolicy Response, Observability.CommandClass Class = Observability.CommandClass.Other)
{
    /// <summary>An unknown command (not in the table nor in the cluster's COMMAND reply).</summary>
    public static CommandTraits Unknown { get; } = new(CommandKind.Normal, false, RouterDisposition.Refused, ResponsePolicy.Default);

    /// <summary>
    /// A command the cluster's COMMAND knows and the gateway's table does not (a module, a newer Redis): the safe
    /// default, its own connection for its duration, since nothing says what it does to the connection it runs on.
    /// </summary>
    public static CommandTraits UnknownToTable(CommandSpecFlags flags) =>
        new(CommandKind.Normal, false, RouterDisposition.Dedicated, ResponsePolicy.Default,
            Observability.CommandClasses.Of((flags & CommandSpecFlags.Write) != 0, (flags & CommandSpecFlags.ReadOnly) != 0));

    // What flags and tips do not say: the connection effects, and the router's own answers.
    private static readonly FrozenDictionary<string, (CommandKind Kind, RouterDisposition? Router)> Explicit =
        new Dictionary<string, (CommandKind, RouterDisposition?)>(StringComparer.Ordinal)
        {
            ["auth"] = (CommandKind.Auth, RouterDisposition.Local),
            ["hello"] = (CommandKind.Hello, RouterDisposition.Local),
            ["select"] = (CommandKind.Select, RouterDisposition.Local),
            ["quit"] = (CommandKind.Quit, RouterDisposition.Local),
            ["reset"] = (CommandKind.Reset, RouterDisposition.Local),
            ["readonly"] = (CommandKind.ReadOnly, RouterDisposition.Local),
            ["readwrite"] = (CommandKind.ReadWrite, RouterDisposition.Local),
            ["ping"] = (CommandKind.Normal, RouterDisposition.Local),
            ["echo"] = (CommandKind.Normal, RouterDisposition.Local),
            ["client"] = (CommandKind.Normal, RouterDisposition.Local),
            ["client|setname"] = (CommandKind.ClientSetName, RouterDisposition.Local),
            ["cluster"] = (CommandKind.Normal, RouterDisposition.Local),
            ["cluster|nodes"] = (CommandKind.ClusterNodes, RouterDisposition.Local),
            ["cluster|slots"] = (CommandKind.ClusterSlots, RouterDisposition.Local),
            ["cluster|shards"] = (CommandKind.ClusterShards, RouterDisposition.Local),
            ["multi"] = (CommandKind.Multi, RouterDisposition.Transaction),
            ["exec"] = (CommandKind.Exec, RouterDisposition.Transaction),
            ["discard"] = (CommandKind.Discard, RouterDisposition.Transaction),
            ["watch"] = (CommandKind.Normal, RouterDisposition.Transaction),
            ["unwatch"] = (CommandKind.Normal, RouterDisposition.Transaction),
            ["monitor"] = (CommandKind.Monitor, RouterDisposition.Monitor),
            ["subscribe"] = (CommandKind.Subscribe, RouterDisposition.PubSub),
            ["psubscribe"] = (CommandKind.PSubscribe, RouterDisposition.PubSub),
            ["ssubscribe"] = (CommandKind.SSubscribe, RouterDisposition.PubSub),
            ["unsubscribe"] = (CommandKind.Unsubscribe, RouterDisposition.PubSub),
            ["punsubscribe"] = (CommandKind.PUnsubscribe, RouterDisposition.PubSub),
            ["sunsubscribe"] = (CommandKind.SUnsubscribe, RouterDisposition.PubSub),
            ["wait"] = (CommandKind.Normal, RouterDisposition.Dedicated),
            ["waitaof"] = (CommandKind.Normal, RouterDisposition.Dedicated),
            ["scan"] = (CommandKind.Normal, RouterDisposition.Special),
            ["info"] = (CommandKind.Normal, RouterDisposition.Special),
            ["randomkey"] = (CommandKind.Normal, RouterDisposition.Special),
            ["config|get"] = (CommandKind.Normal, RouterDisposition.Special),
            ["script|kill"] = (CommandKind.Normal, RouterDisposition.Special),
            ["function|kill"] = (CommandKind.Normal, RouterDisposition.Special),
            ["pubsub|channels"] = (CommandKind.Normal, RouterDisposition.Special),
            ["pubsub|numsub"] = (CommandKind.Normal, RouterDisposition.Special),
            ["pubsub|numpat"] = (CommandKind.Normal, RouterDisposition.Special),
            ["pubsub|shardchannels"] = (CommandKind.Normal, RouterDisposition.Special),
            ["pubsub|shardnumsub"] = (CommandKind.Normal, RouterDisposition.Special),
            ["acl|setuser"] = (CommandKind.Normal, RouterDisposition.AllNodes),
            ["acl|deluser"] = (CommandKind.Normal, RouterDisposition.AllNodes),
            ["acl|load"] = (CommandKind.Normal, RouterDisposition.AllNodes),
            ["acl|save"] = (CommandKind.Normal, RouterDisposition.AllNodes),
            ["config|rewrite"] = (CommandKind.Normal, RouterDisposition.AllNodes),
            ["config|resetstat"] = (CommandKind.Normal, RouterDisposition.AllNodes),
            ["mset"] = (CommandKind.Normal, RouterDisposition.Split),

            // A replication link, a node's shutdown or failover, DEBUG: never for a shared connection, nor a client's.
            ["sync"] = (CommandKind.Normal, RouterDisposition.Refused),
            ["psync"] = (CommandKind.Normal, RouterDisposition.Refused),
            ["replconf"] = (CommandKind.Normal, RouterDisposition.Refused),
            ["failover"] = (CommandKind.Normal, RouterDisposition.Refused),
            ["shutdown"] = (CommandKind.Normal, RouterDisposition.Refused),
            ["replicaof"] = (CommandKind.Normal, RouterDisposition.Refused),
            ["slaveof"] = (CommandKind.Normal, RouterDisposition.Refused),
            ["debug"] = (CommandKind.Normal, RouterDisposition.Refused),
            ["swapdb"] = (CommandKind.Normal, RouterDisposition.Refused),
            ["module"] = (CommandKind.Normal, RouterDisposition.Refused),
        }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The traits of a command as Redis describes it (<paramref name="name"/> lower case, subcommands as <c>"client|setname"</c>).</summary>
    public static CommandTraits Of(string name, CommandSpecFlags flags, ImmutableArray<string> tips)
    {
        var resendable = (flags & CommandSpecFlags.ReadOnly) != 0 && (flags & (CommandSpecFlags.Write | CommandSpecFlags.Blocking)) == 0;
        var response = ResponseOf(tips);
        var commandClass = Observability.CommandClasses.Of((flags & CommandSpecFlags.Write) != 0, (flags & CommandSpecFlags.ReadOnly) != 0);
        if (Explicit.TryGetValue(name, out var known))
        {
            return new(known.Kind, resendable, known.Router ?? RouterDisposition.Shared, response, commandClass);
        }

        // A subcommand of a container the router answers itself (CLIENT KILL, CLUSTER INFO) is answered there too.
        var bar = name.IndexOf('|', StringComparison.Ordinal);
        if (bar > 0 && Explicit.TryGetValue(name[..bar], out var container) && container.Router is RouterDisposition.Local or RouterDisposition.Refused)
        {
            return new(CommandKind.Normal, resendable, container.Router.Value, response, commandClass);
        }

        var router = (flags & CommandSpecFlags.Blocking) != 0 ? RouterDisposition.Dedicated : RequestPolicyOf(tips);
        return new(CommandKind.Normal, resendable, router, response, commandClass);
    }

    private static RouterDisposition RequestPolicyOf(ImmutableArray<string> tips)
    {
        foreach (var tip in tips)
        {
            switch (tip)
            {
                case "request_policy:multi_shard":
                    return RouterDisposition.Split;
                case "request_policy:all_shards":
                    return RouterDisposition.AllMasters;
                case "request_policy:all_nodes":
                    return RouterDisposition.AllNodes;
                case "request_policy:special":
                    return RouterDisposition.Special;
            }
        }

        return RouterDisposition.Shared;
    }

    private static ResponsePolicy ResponseOf(ImmutableArray<string> tips)
    {
        foreach (var tip in tips)
        {
            switch (tip)
            {
                case "response_policy:all_succeeded":
                    return ResponsePolicy.AllSucceeded;
                case "response_policy:one_succeeded":
                    return ResponsePolicy.OneSucceeded;
                case "response_policy:agg_sum":
                    return ResponsePolicy.AggregateSum;
                case "response_policy:agg_logical_and":
                    return ResponsePolicy.AggregateLogicalAnd;
                case "response_policy:agg_logical_or":
                    return ResponsePolicy.AggregateLogicalOr;
                case "response_policy:agg_min":
                    return ResponsePolicy.AggregateMin;
                case "response_policy:agg_max":
                    return ResponsePolicy.AggregateMax;
                case "response_policy:special":
                    return ResponsePolicy.Special;
            }
        }

        return ResponsePolicy.Default;
    }
}
