using ClusterGate.Core.Observability;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Topology;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Routing.Commands;

/// <summary>The cluster's own command table, for both frontends: the generated one merged with a live <c>COMMAND</c>.</summary>
internal static partial class CommandCatalogLoader
{
    /// <summary>
    /// Reads <c>COMMAND</c> and the Redis version (<c>INFO server</c>) from the first node that answers, masters first;
    /// the generated table and no version when none does (it still knows every built-in command of Redis 7).
    /// </summary>
    public static async Task<(CommandCatalog Catalog, string? ServerVersion)> LoadAsync(TopologyMonitor monitor, ILogger logger, CancellationToken cancellationToken)
    {
        foreach (var node in monitor.Current.Nodes.Where(n => !n.IsDown).OrderBy(n => n.IsMaster ? 0 : 1))
        {
            try
            {
                var reply = await monitor.Nodes.ExecuteAsync(node.Connect, ["COMMAND"], cancellationToken);
                if (reply.Type == RespType.Error)
                {
                    continue;
                }

                var catalog = CommandCatalog.Default.WithLive(reply);
                LogLoaded(logger, catalog.Count, node.Connect.ToString());
                var info = await monitor.Nodes.ExecuteAsync(node.Connect, ["INFO", "server"], cancellationToken);
                var version = info.Type == RespType.Error
                    ? null
                    : info.AsString().Split('\n').FirstOrDefault(l => l.StartsWith("redis_version:", StringComparison.Ordinal))?["redis_version:".Length..].Trim();
                return (catalog, version);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogFailed(logger, node.Connect.ToString(), ex.Message);
            }
        }

        return (CommandCatalog.Default, null);
    }

    [LoggerMessage(EventId = LogEvents.CommandTableLoaded, Level = LogLevel.Information, Message = "Read {Count} command definitions from {Node}")]
    private static partial void LogLoaded(ILogger logger, int count, string node);

    [LoggerMessage(EventId = LogEvents.CommandTableFailed, Level = LogLevel.Warning, Message = "COMMAND on {Node} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string node, string reason);
}
