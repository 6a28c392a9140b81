using ClusterGate.Core.Backends;
using ClusterGate.Core.Backends.Links;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Routing.Dispatch;
using ClusterGate.Core.Routing.Scripts;
using ClusterGate.Core.Topology;
using ClusterGate.Core.Transport;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>What every router session shares.</summary>
internal sealed class RouterContext
{
    private readonly DescriptorBudget _descriptors;
    private readonly Lock _gate = new();
    private readonly Dictionary<int, int> _linksPerGroup = [];

    public RouterContext(
        CommandDispatcher dispatcher, RouterOptions options, ILogger logger, TimeProvider timeProvider, IBackendConnector connector, DescriptorBudget descriptors, Observability.FrontendStats stats)
    {
        Stats = stats;
        Dispatcher = dispatcher;
        Options = options;
        Logger = logger;
        TimeProvider = timeProvider;
        Connector = connector;
        _descriptors = descriptors;
        Masters = new GroupMasterDirectory(dispatcher.Monitor);
        Lingering = new LingeringWriters(timeProvider);
        ProtocolErrors = FrontendLog.ProtocolErrorLimiter(options.ProtocolErrorLogLimit, options.ProtocolErrorLogInterval, timeProvider, logger, "router");
        LinkOptions = new MasterLinkOptions
        {
            HoldTimeout = options.HoldTimeout,
            ConnectTimeout = options.ConnectTimeout,
            MaxInFlight = options.MaxPendingPerSession,
            User = options.User,
            Password = options.Password,
            Stats = stats,
        };
    }

    public CommandDispatcher Dispatcher { get; }

    public RouterOptions Options { get; }

    public ILogger Logger { get; }

    public TimeProvider TimeProvider { get; }

    public LingeringWriters Lingering { get; }

    /// <summary>Client protocol errors are logged through this, so garbage from many clients cannot flood the log.</summary>
    public Observability.LogRateLimiter ProtocolErrors { get; }

    public RespLimits Limits { get; } = RespLimits.Default;

    /// <summary>The topology as the clients' own connections (<see cref="RouterLink"/>) see it.</summary>
    public IMasterDirectory Masters { get; }

    public IBackendConnector Connector { get; }

    public MasterLinkOptions LinkOptions { get; }

    /// <summary>The generated table merged with the cluster's own <c>COMMAND</c> at start.</summary>
    public CommandCatalog Commands { get; set; } = CommandCatalog.Default;

    /// <summary>Commands, bytes, waits and latency of router clients, for the metrics.</summary>
    public Observability.FrontendStats Stats { get; }

    /// <summary>The cluster's Redis version (INFO server), for HELLO.</summary>
    public string? ServerVersion { get; set; }

    /// <summary>Script bodies seen, for EVALSHA after a failover (see <see cref="ScriptCache"/>).</summary>
    public ScriptCache Scripts { get; } = new(64 * 1024 * 1024);

    /// <summary>Lists the router's clients for CLIENT LIST (set by the frontend).</summary>
    public Func<string>? ClientList { get; set; }

    public string? DescribeClients() => ClientList?.Invoke();

    /// <summary>
    /// Takes a place for one more client-owned connection to a group's master: at most
    /// <see cref="RouterOptions.MaxOwnConnectionsPerMaster"/> per master, and a descriptor. False at the limit: the
    /// command gets a clear error instead of waiting.
    /// </summary>
    public bool TryTakeLink(int groupId)
    {
        lock (_gate)
        {
            var used = _linksPerGroup.GetValueOrDefault(groupId);
            if (used >= Options.MaxOwnConnectionsPerMaster || !_descriptors.TryTake(1))
            {
                return false;
            }

            _linksPerGroup[groupId] = used + 1;
            return true;
        }
    }

    /// <summary>Connections of clients' own open now, over every master.</summary>
    public int OwnConnections
    {
        get
        {
            lock (_gate)
            {
                return _linksPerGroup.Values.Sum();
            }
        }
    }

    /// <summary>Connections of clients' own open now, by group.</summary>
    public IReadOnlyList<(int Group, int Count)> OwnConnectionsByGroup
    {
        get
        {
            lock (_gate)
            {
                return [.. _linksPerGroup.Select(p => (p.Key, p.Value))];
            }
        }
    }

    public void ReturnLink(int groupId)
    {
        lock (_gate)
        {
            _linksPerGroup[groupId] = _linksPerGroup.GetValueOrDefault(groupId) - 1;
        }

        _descriptors.Return(1);
    }
}
