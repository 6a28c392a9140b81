using System.Collections.Frozen;
using System.Collections.Immutable;
using ClusterGate.Core.Backends;

namespace ClusterGate.Core.Topology;

/// <summary>One node as the gateway sees it after reconciling every view.</summary>
public sealed record NodeState
{
    public required string Id { get; init; }

    /// <summary>The address the cluster announces (what clients would see in MOVED).</summary>
    public required NodeEndpoint Announced { get; init; }

    /// <summary>The address the gateway connects to: <see cref="Announced"/> after the address map.</summary>
    public required NodeEndpoint Connect { get; init; }

    public required bool IsMaster { get; init; }

    /// <summary>For a replica, the master's node id.</summary>
    public string? MasterId { get; init; }

    public long ConfigEpoch { get; init; }

    /// <summary>A view said <c>fail</c>, or the gateway could not reach the node.</summary>
    public bool IsDown { get; init; }

    /// <summary>Some view says <c>fail?</c> (suspected, not yet agreed).</summary>
    public bool IsSuspected { get; init; }

    /// <summary>The gateway got an answer from the node in the last refresh.</summary>
    public bool Reachable { get; init; }

    /// <summary>The node answered <c>-BUSY</c> (a long script or function runs): alive, its replies come late.</summary>
    public bool IsBusy { get; init; }

    /// <summary>The node's own <c>INFO replication</c>, when it answered.</summary>
    public ReplicationInfo? Replication { get; init; }
}

/// <summary>
/// A master and its replicas. <see cref="Id"/> is the group's identity and survives failover: the
/// promoted replica leads the same group, so the shard port bound to it follows.
/// </summary>
public sealed record ShardGroup
{
    public required int Id { get; init; }

    /// <summary>The node that owns the group's slots per the highest config epoch; may be down.</summary>
    public NodeState? Master { get; init; }

    /// <summary>
    /// True only when <c>CLUSTER NODES</c> and the node's own <c>INFO replication</c> agree that
    /// <see cref="Master"/> is a reachable master. Traffic goes to the master only then.
    /// </summary>
    public required bool MasterConfirmed { get; init; }

    public ImmutableArray<NodeState> Replicas { get; init; } = [];

    public ImmutableArray<SlotRange> Slots { get; init; } = [];

    public int LowestSlot => Slots.IsDefaultOrEmpty ? int.MaxValue : Slots[0].Start;

    /// <summary>The master to route to, or null while the group has no confirmed master.</summary>
    public NodeState? RoutableMaster => MasterConfirmed ? Master : null;

    public bool ContainsNode(string nodeId) =>
        Master?.Id == nodeId || Replicas.Any(r => r.Id == nodeId);
}

/// <summary>
/// An immutable picture of the cluster. Swapped atomically by the monitor; readers take one
/// reference into a local and never lock.
/// </summary>
public sealed class TopologySnapshot
{
    /// <summary>Hash slots of a Redis Cluster.</summary>
    public const int SlotCount = 16384;

    private readonly ShardGroup?[] _slotOwners;
    private readonly FrozenDictionary<string, ShardGroup> _groupByNodeId;
    private readonly FrozenDictionary<NodeEndpoint, ShardGroup> _groupByAnnounced;

    public TopologySnapshot(long version, DateTimeOffset createdAt, ImmutableArray<ShardGroup> groups, ImmutableArray<NodeState> nodes, ImmutableArray<SlotMigration> migrations)
    {
        Version = version;
        CreatedAt = createdAt;
        Groups = groups;
        Nodes = nodes;
        Migrations = migrations;
        _slotOwners = new ShardGroup?[SlotCount];
        var byNode = new Dictionary<string, ShardGroup>(StringComparer.Ordinal);
        var byAddress = new Dictionary<NodeEndpoint, ShardGroup>();
        foreach (var group in groups)
        {
            foreach (var range in group.Slots)
            {
                for (var slot = range.Start; slot <= range.End; slot++)
                {
                    _slotOwners[slot] = group;
                }
            }

            if (group.Master is { } master)
            {
                byNode[master.Id] = group;
                byAddress[master.Announced] = group;
            }

            foreach (var replica in group.Replicas)
            {
                byNode.TryAdd(replica.Id, group);
                byAddress.TryAdd(replica.Announced, group);
            }
        }

        _groupByNodeId = byNode.ToFrozenDictionary(StringComparer.Ordinal);
        _groupByAnnounced = byAddress.ToFrozenDictionary();
    }

    public static TopologySnapshot Empty { get; } = new(0, DateTimeOffset.MinValue, [], [], []);

    public long Version { get; }

    public DateTimeOffset CreatedAt { get; }

    /// <summary>Groups ordered by <see cref="ShardGroup.Id"/>.</summary>
    public ImmutableArray<ShardGroup> Groups { get; }

    public ImmutableArray<NodeState> Nodes { get; }

    /// <summary>Slots in migration (importing/migrating markers seen in any view).</summary>
    public ImmutableArray<SlotMigration> Migrations { get; }

    public bool AllGroupsConfirmed => Groups.All(g => g.MasterConfirmed);

    public bool AllSlotsCovered => Array.TrueForAll(_slotOwners, g => g is not null);

    public ShardGroup? GroupForSlot(int slot) => _slotOwners[slot];

    public ShardGroup? GroupById(int id)
    {
        foreach (var group in Groups)
        {
            if (group.Id == id)
            {
                return group;
            }
        }

        return null;
    }

    public ShardGroup? GroupByNodeId(string nodeId) => _groupByNodeId.GetValueOrDefault(nodeId);

    /// <summary>The group a node announced at this address belongs to (for rewriting redirects).</summary>
    public ShardGroup? GroupByAnnouncedEndpoint(NodeEndpoint endpoint) => _groupByAnnounced.GetValueOrDefault(endpoint);

    public NodeState? NodeById(string nodeId)
    {
        foreach (var node in Nodes)
        {
            if (node.Id == nodeId)
            {
                return node;
            }
        }

        return null;
    }
}
