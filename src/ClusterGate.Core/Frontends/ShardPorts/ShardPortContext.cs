using ClusterGate.Core.Backends;
using ClusterGate.Core.Backends.Links;
using ClusterGate.Core.Frontends.Rewrite;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Topology;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.ShardPorts;

/// <summary>What every shard session shares: topology, settings, connector, command flags, port map.</summary>
internal sealed class ShardPortContext
{
    private readonly Func<int, int?> _portOf;
    private CachedMap? _addressMap;

    public ShardPortContext(
        TopologyMonitor monitor, ShardPortOptions options, IBackendConnector connector, ILogger logger, TimeProvider timeProvider, Func<int, int?> portOf, Observability.FrontendStats stats)
    {
        Stats = stats;
        Monitor = monitor;
        Masters = new GroupMasterDirectory(monitor);
        Options = options;
        LinkOptions = new MasterLinkOptions
        {
            HoldTimeout = options.HoldTimeout,
            ConnectTimeout = options.ConnectTimeout,
            MaxInFlight = options.MaxPendingPerSession,
            User = options.User,
            Password = options.Password,
            Stats = stats,
        };
        Connector = connector;
        Logger = logger;
        TimeProvider = timeProvider;
        ProtocolErrors = FrontendLog.ProtocolErrorLimiter(options.ProtocolErrorLogLimit, options.ProtocolErrorLogInterval, timeProvider, logger, "shard ports");
        _portOf = portOf;
    }

    public TopologyMonitor Monitor { get; }

    /// <summary>The topology as the sessions' master links see it.</summary>
    public IMasterDirectory Masters { get; }

    public ShardPortOptions Options { get; }

    public MasterLinkOptions LinkOptions { get; }

    public IBackendConnector Connector { get; }

    public ILogger Logger { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>Client protocol errors are logged through this, so garbage from many clients cannot flood the log.</summary>
    public Observability.LogRateLimiter ProtocolErrors { get; }

    public RespLimits Limits { get; } = RespLimits.Default;

    /// <summary>The generated table merged with the cluster's own <c>COMMAND</c> at start (modules, newer servers).</summary>
    public CommandCatalog Commands { get; set; } = CommandCatalog.Default;

    /// <summary>Commands, bytes, waits and latency of every shard port, for the metrics.</summary>
    public Observability.FrontendStats Stats { get; }

    public int? PortOf(int groupId) => _portOf(groupId);

    /// <summary>
    /// Node → gateway address for rewritten replies: a group's master maps to the group's shard port;
    /// replicas and nodes outside any group are dropped (the shard port only ever reaches masters).
    /// </summary>
    public GatewayAddressMap AddressMap(TopologySnapshot snapshot)
    {
        var cached = Volatile.Read(ref _addressMap);
        if (cached is not null && cached.Version == snapshot.Version)
        {
            return cached.Map;
        }

        var host = Options.AnnounceHost;
        GatewayAddressMap map = (nodeId, announced) =>
        {
            var group = nodeId is not null ? snapshot.GroupByNodeId(nodeId) : snapshot.GroupByAnnouncedEndpoint(announced);
            if (group?.Master is not { } master)
            {
                return null;
            }

            var isMaster = nodeId is not null ? master.Id == nodeId : master.Announced == announced;
            return isMaster && PortOf(group.Id) is { } port ? new NodeEndpoint(host, port) : null;
        };
        Volatile.Write(ref _addressMap, new CachedMap(snapshot.Version, map));
        return map;
    }

    private sealed record CachedMap(long Version, GatewayAddressMap Map);
}
