namespace ClusterGate.Hostile;

/// <summary>Everything the command line decides. Sizes are counts or bytes; times are spans.</summary>
internal sealed record HostileOptions
{
    /// <summary>The Redis-speaking port under test, HOST:PORT.</summary>
    public required string Target { get; init; }

    /// <summary>Process under test (RSS, descriptors, liveness, fd-exhaustion); null: those columns say "-".</summary>
    public int? Pid { get; init; }

    /// <summary>The real Redis master behind the port, HOST:PORT, for connected_clients; null: not measured.</summary>
    public string? Node { get; init; }

    /// <summary>Probe names in run order.</summary>
    public required IReadOnlyList<string> Probes { get; init; }

    /// <summary>The good client's key; null: <c>{TAG}:good</c> with the first tag that lands on the port's master.</summary>
    public string? GoodKey { get; init; }

    public string Tag { get; init; } = "hostile";
    public int Connections { get; init; } = 20_000;
    public int Batch { get; init; } = 200;
    public TimeSpan Hold { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan Settle { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Bytes of the big value; null: each probe's own default (never-reads 100 KB, burst 1 MB).</summary>
    public int? ValueSize { get; init; }

    public int PipelineCount { get; init; } = 200_000;
    public int PingCount { get; init; } = 1_000_000;
    public int IdleCount { get; init; } = 10_000;
    public int FdLimit { get; init; } = 1024;
    public int FdConnections { get; init; } = 1100;
    public TimeSpan ReplyTimeout { get; init; } = TimeSpan.FromSeconds(2);
    public TimeSpan OpTimeout { get; init; } = TimeSpan.FromSeconds(5);
    public TimeSpan GoodPause { get; init; } = TimeSpan.FromMilliseconds(1);
    public TimeSpan CutoffTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public int RssLimitMb { get; init; } = 4096;

    /// <summary>burst: how long RSS is followed after the last burst client closed.</summary>
    public TimeSpan SettleBurst { get; init; } = TimeSpan.FromSeconds(60);

    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromMinutes(3);
    public int RandomSeed { get; init; } = 1;
    public bool Json { get; init; }
}
