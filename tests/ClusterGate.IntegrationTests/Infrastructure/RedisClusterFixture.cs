using Xunit;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>
/// One cluster shared by every test class in the "cluster" collection. Tests that break nodes
/// (DEBUG SEGFAULT, restarts) must not use it: they start a private cluster with
/// <c>await using var cluster = await RedisCluster.StartAsync(...)</c>.
/// </summary>
public sealed class RedisClusterFixture : IAsyncLifetime
{
    private RedisCluster? _cluster;

    public RedisCluster Cluster => _cluster ?? throw new InvalidOperationException("The shared cluster is not started.");

    public async Task InitializeAsync() => _cluster = await RedisCluster.StartAsync();

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<RedisClusterFixture>
{
    public const string Name = "cluster";
}
