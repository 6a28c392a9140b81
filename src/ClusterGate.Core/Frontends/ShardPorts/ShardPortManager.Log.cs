using ClusterGate.Core.Observability;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.ShardPorts;

public sealed partial class ShardPortManager
{
    [LoggerMessage(EventId = LogEvents.ListenerStarted, Level = LogLevel.Information, Message = "Shard port {Port} serves group {GroupId} (master {Master}, slots {Slots})")]
    private partial void LogListenerStarted(int groupId, int port, string master, string slots);

    [LoggerMessage(EventId = LogEvents.ListenerStopped, Level = LogLevel.Information, Message = "Shard port {Port} of group {GroupId} stopped")]
    private partial void LogListenerStopped(int groupId, int port);

    [LoggerMessage(EventId = LogEvents.ListenerFailed, Level = LogLevel.Error, Message = "Shard port {Port} for group {GroupId} could not be bound: {Reason}; the group has no shard port until it can (retried at every topology refresh, logged once a minute)")]
    private partial void LogListenerFailed(int groupId, int port, string reason);

    [LoggerMessage(EventId = LogEvents.SessionFailed, Level = LogLevel.Error, Message = "Session {SessionId} of group {GroupId} failed")]
    private partial void LogSessionFailed(Exception exception, long sessionId, int groupId);

    [LoggerMessage(EventId = 214, Level = LogLevel.Error, Message = "Following the topology failed")]
    private partial void LogReconcileFailed(Exception exception);
}
