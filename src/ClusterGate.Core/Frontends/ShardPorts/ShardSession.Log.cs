using ClusterGate.Core.Observability;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.ShardPorts;

internal static partial class ShardSessionLog
{
    [LoggerMessage(EventId = LogEvents.SessionStarted, Level = LogLevel.Debug, Message = "Session {SessionId} on group {GroupId} from {Remote}")]
    public static partial void SessionStarted(ILogger logger, long sessionId, int groupId, string remote);

    [LoggerMessage(EventId = LogEvents.SessionEnded, Level = LogLevel.Debug, Message = "Session {SessionId} on group {GroupId} ended")]
    public static partial void SessionEnded(ILogger logger, long sessionId, int groupId);

    [LoggerMessage(EventId = LogEvents.SessionMoved, Level = LogLevel.Information, Message = "Session {SessionId} of group {GroupId} moves from {From} to the new master {To}")]
    public static partial void SessionMoved(ILogger logger, long sessionId, int groupId, string from, string to);

    [LoggerMessage(EventId = LogEvents.BackendLost, Level = LogLevel.Information, Message = "Session {SessionId} of group {GroupId} lost its backend {Backend}: {Reason}")]
    public static partial void BackendLost(ILogger logger, long sessionId, int groupId, string backend, string reason);

    [LoggerMessage(EventId = LogEvents.BackendConnected, Level = LogLevel.Debug, Message = "Session {SessionId} of group {GroupId} connected to master {Backend}")]
    public static partial void BackendConnected(ILogger logger, long sessionId, int groupId, string backend);

    [LoggerMessage(EventId = LogEvents.ProtocolError, Level = LogLevel.Information, Message = "Session {SessionId}: client protocol error, closing: {Error}")]
    public static partial void ProtocolError(ILogger logger, long sessionId, string error);

    [LoggerMessage(EventId = LogEvents.HoldExpired, Level = LogLevel.Warning, Message = "Session {SessionId}: group {GroupId} had no reachable master within the hold time ({HoldMs} ms)")]
    public static partial void HoldExpired(ILogger logger, long sessionId, int groupId, double holdMs);

    [LoggerMessage(EventId = LogEvents.ReplayFailed, Level = LogLevel.Warning, Message = "Session {SessionId}: replaying connection state on the new master failed: {Reply}")]
    public static partial void ReplayFailed(ILogger logger, long sessionId, string reply);
}
