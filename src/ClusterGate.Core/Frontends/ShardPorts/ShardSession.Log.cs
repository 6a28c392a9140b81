using ClusterGate.Core.Observability;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.ShardPorts;

internal static partial class ShardSessionLog
{
    [LoggerMessage(EventId = LogEvents.SessionStarted, Level = LogLevel.Debug, Message = "Session {SessionId} on group {GroupId} from {Remote}")]
    public static partial void SessionStarted(ILogger logger, long sessionId, int groupId, string remote);

    [LoggerMessage(EventId = LogEvents.SessionEnded, Level = LogLevel.Debug, Message = "Session {SessionId} on group {GroupId} ended")]
    public static partial void SessionEnded(ILogger logger, long sessionId, int groupId);

    [LoggerMessage(EventId = LogEvents.ProtocolError, Level = LogLevel.Information, Message = "Session {SessionId} ({RemoteEndPoint}): client protocol error, closing: {Error} ({Suppressed} more before this one not logged)")]
    public static partial void ProtocolError(ILogger logger, long sessionId, string remoteEndPoint, string error, int suppressed);
}
