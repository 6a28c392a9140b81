using Xunit;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>A <see cref="StandaloneRedis"/> for all tests of a class (class fixture), started before the first.</summary>
public sealed class StandaloneRedisFixture : IAsyncLifetime
{
    private StandaloneRedis? _redis;

    public StandaloneRedis Redis => _redis ?? throw new InvalidOperationException("The standalone redis-server is not started.");

    public async Task InitializeAsync() => _redis = await StandaloneRedis.StartAsync();

    public async Task DisposeAsync()
    {
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }
    }
}
