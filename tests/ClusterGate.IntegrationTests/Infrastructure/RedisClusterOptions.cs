namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>How <see cref="RedisCluster.StartAsync"/> builds its 6-node cluster.</summary>
public sealed class RedisClusterOptions
{
    /// <summary><c>cluster-node-timeout</c>: how long a silent node takes to be marked failed.</summary>
    public TimeSpan NodeTimeout { get; init; } = TimeSpan.FromMilliseconds(2000);

    /// <summary>Bound for the whole start: processes up, cluster created, every node in agreement.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Extra <c>redis.conf</c> lines appended to every node's configuration.</summary>
    public IReadOnlyList<string> ExtraConfig { get; init; } = [];

    /// <summary>
    /// <c>requirepass</c> and <c>masterauth</c> on every node (none by default). The cluster's own probes and redis-cli
    /// calls authenticate with it, so its helpers work as on an open cluster. Letters and digits only: it is written
    /// into redis.conf unquoted.
    /// </summary>
    public string? Password { get; init; }
}
