using ClusterGate.Core.Routing.Dispatch;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>Settings of the router port: one address for clients with no cluster support.</summary>
public sealed class RouterOptions
{
    /// <summary>The transport a frontend starts for itself when it is not given one (tests); the gateway shares one.</summary>
    public ClusterGate.Core.Transport.TransportKind Transport { get; set; }

    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>0 = no router port.</summary>
    public int Port { get; set; }

    /// <summary>Shared, pipelined backend connections per master. A client's commands to one master always use the same one, so they run in order.</summary>
    public int ConnectionsPerMaster { get; set; } = 1;

    /// <summary>How long a command waits for its slot's master (crash to promotion, CLUSTERDOWN) before it fails.</summary>
    public TimeSpan HoldTimeout { get; set; } = TimeSpan.FromSeconds(20);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Longest a shared connection may have commands out with no reply coming back before the gateway closes it
    /// (their outcome is unknown; read-only ones are sent again): one command Redis never answers cannot hold
    /// other clients' replies longer than this.
    /// </summary>
    public TimeSpan ReplyTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Redirects (MOVED/ASK) followed for one command before its last error is returned.</summary>
    public int MaxRedirects { get; set; } = 5;

    /// <summary>TRYAGAIN backoff step (multiplied by the attempt), and the most attempts.</summary>
    public TimeSpan TryAgainDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    public int MaxTryAgain { get; set; } = 50;

    /// <summary>
    /// Most replies of one client not yet written; past it the client is not read (backpressure). Deep enough for
    /// any pipeline to run at full speed, and it bounds what one client can put ahead of the others on a shared
    /// connection (1,024 replies, not 16,384).
    /// </summary>
    public int MaxPendingPerSession { get; set; } = 1024;

    /// <summary>
    /// Most clients at once (Redis's <c>maxclients</c>, same default); past it a client gets
    /// <c>-ERR max number of clients reached</c> and is closed. Fewer are taken when file descriptors run short.
    /// </summary>
    public int MaxClients { get; set; } = 10_000;

    /// <summary>Replies of one client held in the gateway while it does not read (see <see cref="OutputBufferLimit"/>).</summary>
    public OutputBufferLimit ClientOutputLimit { get; set; } = OutputBufferLimit.RouterDefault;

    /// <summary>
    /// Most connections of their own that router clients hold to one master at once (blocking commands, watched
    /// transactions, subscriptions, MONITOR); past it such a command gets a clear error, never a wait.
    /// </summary>
    public int MaxOwnConnectionsPerMaster { get; set; } = 1024;

    /// <summary>Messages held for a subscriber that does not read (Redis's <c>client-output-buffer-limit pubsub</c> default).</summary>
    public OutputBufferLimit PubSubOutputLimit { get; set; } = OutputBufferLimit.PubSubDefault;

    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public string? User { get; set; }

    public string? Password { get; set; }

    /// <summary>
    /// Client protocol errors logged per <see cref="ProtocolErrorLogInterval"/>, across all clients; the rest are
    /// counted, and one line says how many when the interval ends (<see cref="Observability.LogRateLimiter"/>).
    /// </summary>
    public int ProtocolErrorLogLimit { get; set; } = 10;

    public TimeSpan ProtocolErrorLogInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The part of these settings that decides how routed commands are sent, redirected and held.</summary>
    internal DispatchOptions ToDispatchOptions() => new()
    {
        HoldTimeout = HoldTimeout,
        ConnectTimeout = ConnectTimeout,
        ReplyTimeout = ReplyTimeout,
        MaxRedirects = MaxRedirects,
        TryAgainDelay = TryAgainDelay,
        MaxTryAgain = MaxTryAgain,
        ConnectionsPerMaster = ConnectionsPerMaster,
        User = User,
        Password = Password,
    };
}
