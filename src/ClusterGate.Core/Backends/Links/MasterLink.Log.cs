using ClusterGate.Core.Observability;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Backends.Links;

internal sealed partial class MasterLink
{
    private void LogMoved(string from, string to) => MasterLinkLog.Moved(_logger, _sessionId, _groupId, from, to);

    private void LogBackendLost(string backend, string reason) => MasterLinkLog.BackendLost(_logger, _sessionId, _groupId, backend, reason);

    private void LogConnected(string backend) => MasterLinkLog.Connected(_logger, _sessionId, _groupId, backend);

    private void LogHoldExpired(double holdMs) => MasterLinkLog.HoldExpired(_logger, _sessionId, _groupId, holdMs);

    private void LogReplayFailed(string reply) => MasterLinkLog.ReplayFailed(_logger, _sessionId, reply);
}

internal static partial class MasterLinkLog
{
    [LoggerMessage(EventId = LogEvents.SessionMoved, Level = LogLevel.Information, Message = "Session {SessionId} of group {GroupId} moves from {From} to the new master {To}")]
    public static partial void Moved(ILogger logger, long sessionId, int groupId, string from, string to);

    [LoggerMessage(EventId = LogEvents.BackendLost, Level = LogLevel.Information, Message = "Session {SessionId} of group {GroupId} lost its backend {Backend}: {Reason}")]
    public static partial void BackendLost(ILogger logger, long sessionId, int groupId, string backend, string reason);

    [LoggerMessage(EventId = LogEvents.BackendConnected, Level = LogLevel.Debug, Message = "Session {SessionId} of group {GroupId} connected to master {Backend}")]
    public static partial void Connected(ILogger logger, long sessionId, int groupId, string backend);

    [LoggerMessage(EventId = LogEvents.HoldExpired, Level = LogLevel.Warning, Message = "Session {SessionId}: group {GroupId} had no reachable master within the hold time ({HoldMs} ms)")]
    public static partial void HoldExpired(ILogger logger, long sessionId, int groupId, double holdMs);

    [LoggerMessage(EventId = LogEvents.ReplayFailed, Level = LogLevel.Warning, Message = "Session {SessionId}: replaying connection state on the new master failed: {Reply}")]
    public static partial void ReplayFailed(ILogger logger, long sessionId, string reply);
}
