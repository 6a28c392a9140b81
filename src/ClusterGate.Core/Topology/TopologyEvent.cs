namespace ClusterGate.Core.Topology;

public enum TopologyEventKind
{
    GroupAdded,
    GroupRemoved,
    /// <summary>A group's confirmed master is a different node than before.</summary>
    MasterChanged,
    /// <summary>A group that had a confirmed master has none now (crash, role disagreement).</summary>
    MasterLost,
    SlotsMoved,
    NodeDown,
    NodeUp,
}

/// <summary>A change between two snapshots, stamped with the time the change was seen.</summary>
public sealed record TopologyEvent(
    TopologyEventKind Kind,
    DateTimeOffset Timestamp,
    long SnapshotVersion,
    int? GroupId,
    string? NodeId,
    string? PreviousNodeId,
    string Detail)
{
    public override string ToString() => $"{Timestamp:O} {Kind} group={GroupId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"} node={NodeId ?? "-"} {Detail}";
}

/// <summary>Computes the events that lead from one snapshot to the next.</summary>
public static class TopologyDiff
{
    public static IReadOnlyList<TopologyEvent> Compare(TopologySnapshot before, TopologySnapshot after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var events = new List<TopologyEvent>();
        var at = after.CreatedAt;
        var version = after.Version;

        foreach (var group in after.Groups)
        {
            var old = before.GroupById(group.Id);
            if (old is null)
            {
                events.Add(new(TopologyEventKind.GroupAdded, at, version, group.Id, group.Master?.Id, null,
                    $"master {group.Master?.Announced} slots {string.Join(',', group.Slots)}"));
                continue;
            }

            var oldMaster = old.RoutableMaster;
            var newMaster = group.RoutableMaster;
            // Confirming the master the group already had (first INFO answer, a quick restart) is no change.
            if (newMaster is not null && newMaster.Id != oldMaster?.Id && newMaster.Id != old.Master?.Id)
            {
                events.Add(new(TopologyEventKind.MasterChanged, at, version, group.Id, newMaster.Id, old.Master?.Id,
                    $"master {old.Master?.Announced.ToString() ?? "-"} -> {newMaster.Announced}"));
            }
            else if (newMaster is null && oldMaster is not null)
            {
                events.Add(new(TopologyEventKind.MasterLost, at, version, group.Id, oldMaster.Id, null,
                    $"master {oldMaster.Announced} not confirmed (down={group.Master?.IsDown}, role={group.Master?.Replication?.Role})"));
            }

            if (!old.Slots.SequenceEqual(group.Slots))
            {
                events.Add(new(TopologyEventKind.SlotsMoved, at, version, group.Id, group.Master?.Id, null,
                    $"slots {string.Join(',', old.Slots)} -> {string.Join(',', group.Slots)}"));
            }
        }

        foreach (var group in before.Groups)
        {
            if (after.GroupById(group.Id) is null)
            {
                events.Add(new(TopologyEventKind.GroupRemoved, at, version, group.Id, group.Master?.Id, null, "group has no slots and no master"));
            }
        }

        foreach (var node in after.Nodes)
        {
            var old = before.NodeById(node.Id);
            if (node.IsDown && old is { IsDown: false })
            {
                events.Add(new(TopologyEventKind.NodeDown, at, version, after.GroupByNodeId(node.Id)?.Id, node.Id, null, node.Announced.ToString()));
            }
            else if (!node.IsDown && old is { IsDown: true })
            {
                events.Add(new(TopologyEventKind.NodeUp, at, version, after.GroupByNodeId(node.Id)?.Id, node.Id, null, node.Announced.ToString()));
            }
        }

        return events;
    }
}
