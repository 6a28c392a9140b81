using ClusterGate.Core.Observability;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Routing.Dispatch;

internal sealed partial class CommandDispatcher
{
    [LoggerMessage(EventId = LogEvents.RouterConnectionLost, Level = LogLevel.Information, Message = "Router connection to {Backend} lost with {InFlight} commands in flight: {Reason}")]
    private partial void LogConnectionLost(string backend, int inFlight, string reason);

    [LoggerMessage(EventId = LogEvents.RouterConnectionSuperseded, Level = LogLevel.Information, Message = "Router connection to {Backend} closed: the master is down and its group has a new one; {InFlight} commands in flight get outcome unknown (read-only ones are sent again)")]
    private partial void LogConnectionSuperseded(string backend, int inFlight);

    [LoggerMessage(EventId = LogEvents.RouterConnectionStalled, Level = LogLevel.Warning, Message = "Router connection to {Backend} sent no reply for {TimeoutMs} ms with commands in flight: closing it")]
    private partial void LogConnectionStalled(string backend, double timeoutMs);
}
