namespace ClusterGate.Core.Frontends.Router;

/// <summary>Settings of the router port: one address for clients with no cluster support.</summary>
public sealed class RouterOptions
{
    public string BindAddress { get; set; } = "0.0.0.0";

    /// <summary>0 = no router port.</summary>
    public int Port { get; set; }

    /// <summary>Shared, pipelined backend connections per master. A client's commands to one master always use the same one, so they run in order.</summary>
    public int ConnectionsPerMaster { get; set; } = 1;

    /// <summary>How long a command waits for its slot's master (crash to promotion, CLUSTERDOWN) before it fails.</summary>
    public TimeSpan HoldTimeout { get; set; } = TimeSpan.FromSeconds(20);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Redirects (MOVED/ASK) followed for one command before its last error is returned.</summary>
    public int MaxRedirects { get; set; } = 5;

    /// <summary>TRYAGAIN backoff step (multiplied by the attempt), and the most attempts.</summary>
    public TimeSpan TryAgainDelay { get; set; } = TimeSpan.FromMilliseconds(20);

    public int MaxTryAgain { get; set; } = 50;

    /// <summary>Most replies of one client not yet written; past it the client is not read (backpressure).</summary>
    public int MaxPendingPerSession { get; set; } = 16 * 1024;

    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public string? User { get; set; }

    public string? Password { get; set; }
}
