using ClusterGate.Core.Backends;

namespace ClusterGate.Core.Topology;

/// <summary>Flags of one line of <c>CLUSTER NODES</c>.</summary>
[Flags]
public enum ClusterNodeFlags
{
    None = 0,
    Myself = 1 << 0,
    Master = 1 << 1,
    Replica = 1 << 2,
    /// <summary><c>fail?</c>: this node's own suspicion (PFAIL).</summary>
    PossiblyFailed = 1 << 3,
    /// <summary><c>fail</c>: the majority of masters agreed.</summary>
    Failed = 1 << 4,
    Handshake = 1 << 5,
    NoAddress = 1 << 6,
    NoFailover = 1 << 7,
    NoFlags = 1 << 8,
}

/// <summary>An inclusive range of hash slots.</summary>
public readonly record struct SlotRange(int Start, int End)
{
    public int Count => End - Start + 1;

    public bool Contains(int slot) => slot >= Start && slot <= End;

    public override string ToString() => Start == End ? Start.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{Start}-{End}";
}

/// <summary>
/// A slot in migration as printed by <c>CLUSTER NODES</c> on the source (<c>[slot-&gt;-target]</c>,
/// <see cref="Importing"/> false) or on the target (<c>[slot-&lt;-source]</c>, <see cref="Importing"/> true).
/// </summary>
public readonly record struct SlotMigration(int Slot, bool Importing, string PeerId);

/// <summary>One line of <c>CLUSTER NODES</c>.</summary>
public sealed record ClusterNodeInfo
{
    public required string Id { get; init; }

    /// <summary>The announced IP; empty when the node announces only a hostname or has no address yet.</summary>
    public required string Ip { get; init; }

    public required int Port { get; init; }

    public required int BusPort { get; init; }

    /// <summary>Redis 7 <c>cluster-announce-hostname</c> (<c>ip:port@cport,hostname</c>), or null.</summary>
    public string? Hostname { get; init; }

    public required ClusterNodeFlags Flags { get; init; }

    /// <summary>The master's id for a replica; null for a master (<c>-</c>).</summary>
    public string? MasterId { get; init; }

    public long PingSentMs { get; init; }

    public long PongReceivedMs { get; init; }

    public long ConfigEpoch { get; init; }

    /// <summary><c>connected</c> or <c>disconnected</c> (the cluster bus link as seen by the reporting node).</summary>
    public bool LinkConnected { get; init; }

    public IReadOnlyList<SlotRange> Slots { get; init; } = [];

    public IReadOnlyList<SlotMigration> Migrations { get; init; } = [];

    public bool IsMaster => (Flags & ClusterNodeFlags.Master) != 0;

    public bool IsReplica => (Flags & ClusterNodeFlags.Replica) != 0;

    public bool IsMyself => (Flags & ClusterNodeFlags.Myself) != 0;

    /// <summary>Failed or suspected failed, or without an address: not a node to route to.</summary>
    public bool IsUnhealthy => (Flags & (ClusterNodeFlags.Failed | ClusterNodeFlags.PossiblyFailed | ClusterNodeFlags.NoAddress | ClusterNodeFlags.Handshake)) != 0;

    /// <summary>The address a client should use: the IP, or the hostname when the IP is empty.</summary>
    public NodeEndpoint Endpoint => new(Ip.Length > 0 ? Ip : Hostname ?? string.Empty, Port);
}

public enum ReplicationRole
{
    Unknown,
    Master,
    Replica,
}

/// <summary>A <c>slaveN:</c> line of a master's <c>INFO replication</c>.</summary>
public sealed record ReplicaLink(string Ip, int Port, string State, long Offset, long Lag);

/// <summary>The parsed <c>INFO replication</c> section.</summary>
public sealed record ReplicationInfo
{
    public ReplicationRole Role { get; init; }

    /// <summary>Master side: <c>connected_slaves</c>.</summary>
    public int ConnectedReplicas { get; init; }

    /// <summary>Master side: the <c>slaveN:</c> lines.</summary>
    public IReadOnlyList<ReplicaLink> Replicas { get; init; } = [];

    /// <summary>Replica side: <c>master_host</c>.</summary>
    public string? MasterHost { get; init; }

    /// <summary>Replica side: <c>master_port</c>.</summary>
    public int MasterPort { get; init; }

    /// <summary>Replica side: <c>master_link_status:up</c>.</summary>
    public bool MasterLinkUp { get; init; }

    /// <summary>Replica side: <c>master_last_io_seconds_ago</c> (-1 when the link is down).</summary>
    public long MasterLastIoSecondsAgo { get; init; } = -1;

    public string? ReplicationId { get; init; }

    /// <summary><c>master_repl_offset</c>.</summary>
    public long MasterReplicationOffset { get; init; }

    /// <summary>Replica side: <c>slave_repl_offset</c>.</summary>
    public long ReplicaReplicationOffset { get; init; }
}
