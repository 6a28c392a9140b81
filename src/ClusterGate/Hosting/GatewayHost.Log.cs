using Microsoft.Extensions.Logging;

namespace ClusterGate.Hosting;

internal sealed partial class GatewayHost
{
    [LoggerMessage(EventId = HostLogEvents.GatewayStarting, Level = LogLevel.Information, Message = "Starting: seeds {Seeds}, bind {Bind}, announce {AnnounceHost}, rewrite redirects {RewriteRedirects}")]
    private partial void LogStarting(string seeds, string bind, string announceHost, bool rewriteRedirects);

    [LoggerMessage(EventId = HostLogEvents.WildcardAnnounce, Level = LogLevel.Warning, Message = "Bound to {Bind} but announcing 127.0.0.1: cluster-aware clients on other hosts will be redirected to themselves; set --announce-host")]
    private partial void LogWildcardAnnounce(string bind);

    [LoggerMessage(EventId = HostLogEvents.ShardPortBound, Level = LogLevel.Information, Message = "Shard port {Port}  group {GroupId}  master {Master}  slots {Slots}  confirmed {Confirmed}")]
    private partial void LogShardPortBound(int port, int groupId, string master, string slots, bool confirmed);

    [LoggerMessage(EventId = HostLogEvents.ShardPortsListening, Level = LogLevel.Information, Message = "{Count} shard ports listening on {Bind}")]
    private partial void LogShardPortsListening(int count, string bind);

    [LoggerMessage(EventId = HostLogEvents.AdminListening, Level = LogLevel.Information, Message = "Admin HTTP on {Url} (listening on {Endpoint}): /health /topology /shards /events")]
    private partial void LogAdminListening(string url, string endpoint);

    [LoggerMessage(EventId = HostLogEvents.Stopping, Level = LogLevel.Information, Message = "Stopping: no new connections, draining in-flight replies for up to {DrainSeconds} s")]
    private partial void LogStopping(double drainSeconds);

    [LoggerMessage(EventId = HostLogEvents.DrainIncomplete, Level = LogLevel.Warning, Message = "Drain did not finish in time; remaining sessions were closed")]
    private partial void LogDrainIncomplete();

    [LoggerMessage(EventId = HostLogEvents.Stopped, Level = LogLevel.Information, Message = "Stopped")]
    private partial void LogStopped();
}
