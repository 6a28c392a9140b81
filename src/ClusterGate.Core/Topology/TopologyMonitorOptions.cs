using ClusterGate.Core.Backends;

namespace ClusterGate.Core.Topology;

/// <summary>How the cluster is discovered and followed.</summary>
public sealed class TopologyMonitorOptions
{
    /// <summary>Where discovery starts. Any one reachable node is enough.</summary>
    public IList<NodeEndpoint> Seeds { get; init; } = [];

    /// <summary>Periodic refresh while every group has a confirmed master.</summary>
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Refresh period while any group lacks a confirmed master (between a crash and the promotion).</summary>
    public TimeSpan FastPollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// While a group lacks a confirmed master, how often its replicas are asked for their role between
    /// fast polls (one INFO each): the promoted replica knows first, so the switch follows within this.
    /// </summary>
    public TimeSpan PromotionWatchInterval { get; set; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Least time between two refreshes, so a storm of triggers costs one refresh each period.</summary>
    public TimeSpan MinRefreshGap { get; set; } = TimeSpan.FromMilliseconds(10);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromMilliseconds(1000);

    /// <summary>Bound on one control-plane round trip (connect included), so a hanging node never stalls a refresh.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromMilliseconds(1000);

    /// <summary>
    /// How long a refresh waits for the last node to answer once every other one has: a node that hangs without
    /// closing its connections must not hold the refresh (and the promotion the others show) for a whole command
    /// timeout. Healthy nodes answer in milliseconds; a slow one is asked again at the next refresh.
    /// </summary>
    public TimeSpan StragglerGrace { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Open a node's circuit after this many consecutive failures.</summary>
    public int CircuitBreakerFailures { get; set; } = 3;

    /// <summary>How long a node's open circuit fails fast before it is tried again.</summary>
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Most nodes asked per refresh (masters first). Small clusters ask every node.</summary>
    public int MaxNodesPerRefresh { get; set; } = 12;

    /// <summary>Announced address → reachable address, for NAT and containers.</summary>
    public IDictionary<NodeEndpoint, NodeEndpoint> AddressMap { get; init; } = new Dictionary<NodeEndpoint, NodeEndpoint>();

    public string? User { get; set; }

    public string? Password { get; set; }

    public NodeEndpoint MapAddress(NodeEndpoint announced) =>
        AddressMap.TryGetValue(announced, out var mapped) ? mapped : announced;
}
