namespace ClusterGate.Core.Frontends.ShardPorts;

/// <summary>A shard port fixed to the group that owns <see cref="Slot"/>, so several gateways expose identical ports.</summary>
public sealed record ShardPortPin(int Port, int Slot);

/// <summary>Settings of the shard-port frontend.</summary>
public sealed class ShardPortOptions
{
    /// <summary>The transport a frontend starts for itself when it is not given one (tests); the gateway shares one.</summary>
    public ClusterGate.Core.Transport.TransportKind Transport { get; set; }

    /// <summary>Address the shard ports listen on.</summary>
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>Host written into rewritten replies (MOVED/ASK, CLUSTER NODES/SLOTS/SHARDS).</summary>
    public string AnnounceHost { get; set; } = "127.0.0.1";

    /// <summary>Group <c>i</c> (ordered by lowest slot at first discovery) listens on <c>BasePort + i</c>.</summary>
    public int BasePort { get; set; } = 7100;

    public IList<ShardPortPin> Pins { get; init; } = [];

    /// <summary>Rewrite node addresses in replies so clients only ever see gateway ports.</summary>
    public bool RewriteRedirects { get; set; } = true;

    /// <summary>How long commands wait while their group has no confirmed master before they fail.</summary>
    public TimeSpan HoldTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>Bound on connecting to a backend master.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Most commands of one client sent and not yet answered; past it the client is not read (backpressure). Deep
    /// enough for any pipeline to run at full speed, and it bounds what a client that never reads leaves in the
    /// master's own output buffer (which Redis does not limit for normal clients): 1,024 replies, not 16,384.
    /// </summary>
    public int MaxPendingPerSession { get; set; } = 1024;

    /// <summary>On shutdown, how long in-flight replies may take to drain before connections close.</summary>
    /// <summary>
    /// Most clients at once (Redis's <c>maxclients</c>, same default); past it a client gets
    /// <c>-ERR max number of clients reached</c> and is closed. Fewer are taken when file descriptors run short.
    /// </summary>
    public int MaxClients { get; set; } = 10_000;

    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Backend credentials used when the client did not AUTH itself (and for replay).</summary>
    public string? User { get; set; }

    public string? Password { get; set; }

    /// <summary>
    /// Client protocol errors logged per <see cref="ProtocolErrorLogInterval"/>, across all clients; the rest are
    /// counted, and one line says how many when the interval ends (<see cref="Observability.LogRateLimiter"/>).
    /// </summary>
    public int ProtocolErrorLogLimit { get; set; } = 10;

    public TimeSpan ProtocolErrorLogInterval { get; set; } = TimeSpan.FromMinutes(1);
}
