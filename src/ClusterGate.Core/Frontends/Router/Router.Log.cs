using ClusterGate.Core.Observability;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.Router;

internal static partial class RouterLog
{
    [LoggerMessage(EventId = LogEvents.ClientOutputLimit, Level = LogLevel.Warning, Message = "Router session {SessionId} ({Client}) closed: {Buffered} bytes of replies waiting for it, over the client output limit ({Limit})")]
    public static partial void ClientOutputLimit(ILogger logger, long sessionId, string client, long buffered, string limit);

    [LoggerMessage(EventId = LogEvents.RouterListening, Level = LogLevel.Information, Message = "Router port {Port} listening")]
    public static partial void Listening(ILogger logger, int port);

    [LoggerMessage(EventId = LogEvents.RouterSessionFailed, Level = LogLevel.Error, Message = "Router session {SessionId} failed")]
    public static partial void SessionFailed(ILogger logger, Exception exception, long sessionId);

    [LoggerMessage(EventId = LogEvents.RouterProtocolError, Level = LogLevel.Information, Message = "Router session {SessionId} ({RemoteEndPoint}): client protocol error, closing: {Error} ({Suppressed} more before this one not logged)")]
    public static partial void ProtocolError(ILogger logger, long sessionId, string remoteEndPoint, string error, int suppressed);
}
