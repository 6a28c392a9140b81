namespace ClusterGate.Core.Backends.Links;

/// <summary>How a <see cref="MasterLink"/> connects and waits.</summary>
internal sealed record MasterLinkOptions
{
    /// <summary>How long commands wait while the group has no confirmed master before they fail.</summary>
    public TimeSpan HoldTimeout { get; init; } = TimeSpan.FromSeconds(20);

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Most commands sent and not yet answered; past it the client is not read.</summary>
    public int MaxInFlight { get; init; } = 1024;

    /// <summary>The gateway's credentials, replayed when the client did not authenticate itself.</summary>
    public string? User { get; init; }

    public string? Password { get; init; }

    /// <summary>Where the link counts its waits for a master and records sampled commands' latency.</summary>
    public Observability.FrontendStats? Stats { get; init; }
}
