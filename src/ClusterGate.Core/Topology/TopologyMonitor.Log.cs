using ClusterGate.Core.Observability;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Topology;

public sealed partial class TopologyMonitor
{
    [LoggerMessage(EventId = LogEvents.TopologyDiscovered, Level = LogLevel.Information, Message = "Discovered {Groups} shard groups on {Nodes} nodes (all masters confirmed: {Confirmed})")]
    private partial void LogDiscovered(int groups, int nodes, bool confirmed);

    [LoggerMessage(EventId = LogEvents.TopologyEvent, Level = LogLevel.Information, Message = "Topology {Kind}: group {GroupId}, node {NodeId}: {Detail}")]
    private partial void LogTopologyEvent(TopologyEventKind kind, int groupId, string nodeId, string detail);

    [LoggerMessage(EventId = LogEvents.NodeQueryFailed, Level = LogLevel.Debug, Message = "Node {Endpoint} did not answer: {Reason}")]
    private partial void LogNodeQueryFailed(string endpoint, string reason);

    [LoggerMessage(EventId = LogEvents.RoleDisagreement, Level = LogLevel.Warning, Message = "Group {GroupId}: CLUSTER NODES names {Endpoint} master but its INFO replication says replica of {MasterHost}:{MasterPort}; not routing to it")]
    private partial void LogRoleDisagreement(int groupId, string endpoint, string masterHost, int masterPort);

    [LoggerMessage(EventId = LogEvents.RefreshRequested, Level = LogLevel.Debug, Message = "Topology refresh requested: {Reason}")]
    private partial void LogRefreshRequested(string reason);

    [LoggerMessage(EventId = LogEvents.RefreshFailed, Level = LogLevel.Error, Message = "Topology refresh failed")]
    private partial void LogRefreshFailed(Exception exception);

    [LoggerMessage(EventId = LogEvents.NoNodeAnswered, Level = LogLevel.Warning, Message = "No node answered the topology refresh ({Asked} asked); every group is unconfirmed")]
    private partial void LogNoNodeAnswered(int asked);
}
