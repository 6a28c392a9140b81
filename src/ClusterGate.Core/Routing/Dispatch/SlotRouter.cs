using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;

namespace ClusterGate.Core.Routing.Dispatch;

/// <summary>
/// Chooses the master a command goes to: its slot's master in the snapshot, unless a <c>MOVED</c> for that slot
/// overrides it until the next snapshot; or the node the command names (a redirect target, a fan-out part), and
/// when that node left or is no longer a master, its group's current master; or, for a keyless command, any master
/// (the same one for a session while the topology stands).
/// </summary>
internal sealed class SlotRouter
{
    // MOVED updates the route at once: until a newer snapshot arrives, the slot goes to the named node.
    private readonly SlotOverride?[] _moved = new SlotOverride?[HashSlot.SlotCount];

    /// <summary>
    /// The master for <paramref name="request"/>, or null when none serves it now (the caller holds it).
    /// <paramref name="cacheable"/>: the answer is the slot table's own (no override, no named node).
    /// </summary>
    public NodeState? Choose(TopologySnapshot snapshot, RoutedCommand request, out bool cacheable)
    {
        cacheable = false;
        NodeState? master;
        if (request.TargetNodeId is { } target)
        {
            master = snapshot.NodeById(target);
            if (master is null || master.IsDown || (request.Slot < 0 && !master.IsMaster && !request.AnyRole))
            {
                // The named node is gone or no longer a master: its group's current master takes its
                // place (a fan-out part stays per group), else the slot table decides.
                master = snapshot.GroupByNodeId(target)?.RoutableMaster
                    ?? (request.TargetGroupId is { } groupId ? snapshot.GroupById(groupId)?.RoutableMaster : null)
                    ?? (request.Slot >= 0 ? snapshot.GroupForSlot(request.Slot)?.RoutableMaster : null);
                if (master is not null || request.Slot >= 0)
                {
                    request.TargetNodeId = master?.Id;
                }
            }
        }
        else if (request.Slot >= 0 && Volatile.Read(ref _moved[request.Slot]) is { } moved && moved.Version == snapshot.Version)
        {
            master = snapshot.NodeById(moved.NodeId) ?? snapshot.GroupForSlot(request.Slot)?.RoutableMaster;
        }
        else
        {
            master = request.Slot >= 0 ? snapshot.GroupForSlot(request.Slot)?.RoutableMaster : null;
            cacheable = request.Slot >= 0;
        }

        // A keyless command with no chosen master: any master will do.
        return master ?? (request.Slot < 0 && request.TargetNodeId is null ? AnyMaster(snapshot, request.SessionId) : null);
    }

    /// <summary>A <c>MOVED</c>: the slot goes to <paramref name="nodeId"/> until a newer snapshot than <paramref name="version"/>.</summary>
    public void Moved(int slot, string nodeId, long version) => Volatile.Write(ref _moved[slot], new SlotOverride(nodeId, version));

    /// <summary>Whether a <c>MOVED</c> overrides the slot in this snapshot version.</summary>
    public bool IsMoved(int slot, long version) => Volatile.Read(ref _moved[slot]) is { } moved && moved.Version == version;

    /// <summary>The node a redirect names, by the address the cluster announces.</summary>
    public static NodeState? FindByAnnounced(TopologySnapshot snapshot, NodeEndpoint endpoint)
    {
        foreach (var node in snapshot.Nodes)
        {
            if (node.Announced == endpoint)
            {
                return node;
            }
        }

        return null;
    }

    private static NodeState? AnyMaster(TopologySnapshot snapshot, long sessionId)
    {
        var groups = snapshot.Groups;
        for (var i = 0; i < groups.Length; i++)
        {
            if (groups[(int)((sessionId + i) % groups.Length)].RoutableMaster is { } master)
            {
                return master;
            }
        }

        return null;
    }

    private sealed record SlotOverride(string NodeId, long Version);
}
