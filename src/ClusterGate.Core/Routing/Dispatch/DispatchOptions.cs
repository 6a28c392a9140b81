namespace ClusterGate.Core.Routing.Dispatch;

/// <summary>How routed commands are sent, redirected, retried and held.</summary>
internal sealed record DispatchOptions
{
    /// <summary>How long a command waits for its slot's master (crash to promotion, CLUSTERDOWN) before it fails.</summary>
    public TimeSpan HoldTimeout { get; init; } = TimeSpan.FromSeconds(20);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest a shared connection may have commands out with no reply coming back before it is closed.</summary>
    public TimeSpan ReplyTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Redirects (MOVED/ASK) followed for one command before its last error is returned.</summary>
    public int MaxRedirects { get; init; } = 5;

    /// <summary>TRYAGAIN backoff step (multiplied by the attempt, up to 10), and the most attempts.</summary>
    public TimeSpan TryAgainDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    public int MaxTryAgain { get; init; } = 50;

    /// <summary>Shared, pipelined connections per master.</summary>
    public int ConnectionsPerMaster { get; init; } = 1;

    public string? User { get; init; }

    public string? Password { get; init; }
}
