using ClusterGate.Core.Backends;

namespace ClusterGate.Core.Topology;

/// <summary>
/// What one node answered in one refresh: its <c>CLUSTER NODES</c> and its <c>INFO replication</c>.
/// <see cref="Error"/> is set when it could not be asked.
/// </summary>
public sealed record NodeView(NodeEndpoint Queried, IReadOnlyList<ClusterNodeInfo>? Nodes, ReplicationInfo? Replication, string? Error)
{
    public bool Answered => Nodes is not null;

    /// <summary>
    /// The node answered <c>-BUSY</c> (a long script or function runs): alive and still what it was, though it cannot
    /// say so now. Never a reason to mark it down.
    /// </summary>
    public bool Busy { get; init; }

    /// <summary>The <c>myself</c> line, which identifies the node that answered.</summary>
    public ClusterNodeInfo? Self => Nodes?.FirstOrDefault(n => n.IsMyself);
}
