using ClusterGate.Core.Backends.Links;

namespace ClusterGate.Core.Topology;

/// <summary>The topology as a <see cref="MasterLink"/> sees it: each group's confirmed master, and when that changes.</summary>
internal sealed class GroupMasterDirectory(TopologyMonitor monitor) : IMasterDirectory
{
    public long Version => monitor.Current.Version;

    public MasterAddress? ConfirmedMaster(int groupId, out long version)
    {
        var snapshot = monitor.Current;
        version = snapshot.Version;
        return snapshot.GroupById(groupId)?.RoutableMaster is { } master ? new MasterAddress(master.Id, master.Connect) : null;
    }

    public bool IsDownOrGone(string nodeId) => monitor.Current.NodeById(nodeId) is null or { IsDown: true };

    public Task NextChangeAsync(CancellationToken cancellationToken) => monitor.NextSnapshotAsync(cancellationToken);

    public void RequestRefresh(string reason) => monitor.RequestRefresh(reason);
}
