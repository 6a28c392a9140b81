using System.Net;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Frontends.ShardPorts;
using ClusterGate.Core.Topology;

namespace ClusterGate.Configuration;

/// <summary>
/// Everything <c>clustergate run</c> is configured with. Read from the JSON file, then
/// <c>CLUSTERGATE__*</c> environment variables, then command-line options (last wins); checked as a
/// whole by <see cref="GatewayOptionsValidator"/> before anything starts.
/// </summary>
public sealed class GatewayOptions
{
    /// <summary>Cluster nodes discovery starts from, <c>HOST:PORT</c> as written by the user.</summary>
    public List<string> Seeds { get; } = [];

    /// <summary>IP address the shard ports and the admin HTTP port listen on.</summary>
    public string Bind { get; set; } = "0.0.0.0";

    /// <summary>Host written into rewritten replies; null means <see cref="EffectiveAnnounceHost"/>'s default.</summary>
    public string? AnnounceHost { get; set; }

    public int ShardBasePort { get; set; } = 7100;

    public bool RewriteRedirects { get; set; } = true;

    /// <summary>Admin HTTP port; 0 means no HTTP listener at all.</summary>
    public int AdminPort { get; set; }

    /// <summary>Router port for clients with no cluster support; 0 means none.</summary>
    public int RouterPort { get; set; }

    /// <summary>Shared pipelined connections the router keeps per master.</summary>
    public int RouterConnectionsPerMaster { get; set; } = 1;

    /// <summary>A JSON log file (one event per line, rolled daily, 7 kept) beside the console; null: console only.</summary>
    public string? LogFile { get; set; }

    /// <summary>Seq server structured logs are also sent to (e.g. http://127.0.0.1:5341); null: console only.</summary>
    public string? SeqUrl { get; set; }

    /// <summary>OTLP endpoint metrics are pushed to (e.g. http://127.0.0.1:4317); null: no OTLP export.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>Most connections of clients' own (blocking commands, WATCH, subscriptions, MONITOR) the router opens to one master.</summary>
    public int RouterOwnConnectionsPerMaster { get; set; } = 1024;

    /// <summary>
    /// Socket event threads; all relay work runs on them. 0 = automatic: half the cores (at least one),
    /// unless <c>DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT</c> is set.
    /// </summary>
    public int IoThreads { get; set; }

    /// <summary><c>auto</c> (io_uring when allowed, else sockets), <c>io-uring</c> (or fail at start), <c>sockets</c>.</summary>
    public string Transport { get; set; } = "auto";

    /// <summary>The event thread count <see cref="IoThreads"/> stands for on a machine with <paramref name="processors"/> cores.</summary>
    public int EffectiveIoThreads(int processors) => IoThreads > 0 ? IoThreads : Math.Max(1, processors / 2);

    public TimeSpan HoldTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Most clients on the shard ports together (Redis's <c>maxclients</c>); fewer when descriptors run short.</summary>
    public int MaxClients { get; set; } = 10_000;

    /// <summary>Most clients on the router port.</summary>
    public int RouterMaxClients { get; set; } = 10_000;

    /// <summary>Longest a shared router connection may go without a reply while commands are out.</summary>
    public TimeSpan RouterReplyTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Replies held for one router client that does not read: "HARD SOFT SECONDS" as Redis writes it.</summary>
    public string ClientOutputLimit { get; set; } = ClusterGate.Core.Frontends.OutputBufferLimit.RouterDefault.ToString();

    /// <summary>Messages held for one router subscriber that does not read: "HARD SOFT SECONDS", Redis's pubsub class.</summary>
    public string PubSubOutputLimit { get; set; } = ClusterGate.Core.Frontends.OutputBufferLimit.PubSubDefault.ToString();

    public List<PortPinOptions> PortPins { get; } = [];

    /// <summary>Announced <c>host:port</c> → reachable <c>host:port</c> (NAT, containers).</summary>
    public Dictionary<string, string> AddressMap { get; } = new(StringComparer.OrdinalIgnoreCase);

    public string? User { get; set; }

    public string? Password { get; set; }

    public GatewayTopologyOptions Topology { get; } = new();

    /// <summary>Verbose/Trace, Debug, Information, Warning, Error, Fatal/Critical.</summary>
    public string LogLevel { get; set; } = "Information";

    /// <summary>
    /// Source → level, over <see cref="LogLevel"/> for that source. A source is the short name a log line shows
    /// (<c>TopologyMonitor</c>, <c>ShardSession</c>) or a full category or namespace (<c>ClusterGate.Core.Topology</c>).
    /// </summary>
    public Dictionary<string, string> LogLevels { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The announce host, defaulting to the bind address; a wildcard bind announces 127.0.0.1
    /// because a wildcard is not an address a client can connect to.
    /// </summary>
    public string EffectiveAnnounceHost =>
        AnnounceHost ?? (IsWildcard(Bind) ? "127.0.0.1" : Bind);

    public static bool IsWildcard(string address) =>
        IPAddress.TryParse(address, out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any));

    /// <summary>Only valid after validation succeeded.</summary>
    public TopologyMonitorOptions ToMonitorOptions()
    {
        var map = new Dictionary<NodeEndpoint, NodeEndpoint>();
        foreach (var (announced, reachable) in AddressMap)
        {
            map[ParseEndpoint(announced)] = ParseEndpoint(reachable);
        }

        return new TopologyMonitorOptions
        {
            Seeds = [.. Seeds.Select(ParseEndpoint)],
            AddressMap = map,
            RefreshInterval = Topology.RefreshInterval,
            FastPollInterval = Topology.FastPollInterval,
            CommandTimeout = Topology.CommandTimeout,
            User = User,
            Password = Password,
        };
    }

    /// <summary>Only valid after validation succeeded.</summary>
    public ShardPortOptions ToShardPortOptions() => new()
    {
        BindAddress = Bind,
        AnnounceHost = EffectiveAnnounceHost,
        BasePort = ShardBasePort,
        Pins = [.. PortPins.Select(p => new ShardPortPin(p.Port, p.Slot))],
        RewriteRedirects = RewriteRedirects,
        HoldTimeout = HoldTimeout,
        MaxClients = MaxClients,
        User = User,
        Password = Password,
    };

    /// <summary>Only valid after validation succeeded.</summary>
    public ClusterGate.Core.Frontends.Router.RouterOptions ToRouterOptions() => new()
    {
        BindAddress = Bind,
        Port = RouterPort,
        ConnectionsPerMaster = RouterConnectionsPerMaster,
        MaxOwnConnectionsPerMaster = RouterOwnConnectionsPerMaster,
        HoldTimeout = HoldTimeout,
        MaxClients = RouterMaxClients,
        ReplyTimeout = RouterReplyTimeout,
        ClientOutputLimit = ClusterGate.Core.Frontends.OutputBufferLimit.TryParse(ClientOutputLimit, out var limit) ? limit : throw new InvalidOperationException("validate the options first"),
        PubSubOutputLimit = ClusterGate.Core.Frontends.OutputBufferLimit.TryParse(PubSubOutputLimit, out var pubsub) ? pubsub : throw new InvalidOperationException("validate the options first"),
        User = User,
        Password = Password,
    };

    private static NodeEndpoint ParseEndpoint(string text) =>
        EndpointParser.TryParse(text, out var endpoint) ? endpoint : throw new InvalidOperationException($"'{text}' is not HOST:PORT; validate the options first.");
}

/// <summary>Fixes the shard port of the group owning <see cref="Slot"/>, so several gateways expose identical ports.</summary>
public sealed class PortPinOptions
{
    public int Port { get; set; }

    public int Slot { get; set; }
}

/// <summary>How often the cluster is polled; see <see cref="TopologyMonitorOptions"/>.</summary>
public sealed class GatewayTopologyOptions
{
    public TimeSpan RefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan FastPollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(1);
}
