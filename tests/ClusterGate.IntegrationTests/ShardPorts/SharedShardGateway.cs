using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.ShardPorts;

/// <summary>
/// One gateway in front of the shared healthy cluster for all tests of a class (class fixture),
/// started by the first test that asks for it and stopped after the class.
/// </summary>
public sealed class SharedShardGateway : IAsyncLifetime
{
    private readonly object _lock = new();
    private Task<ShardGateway>? _gateway;

    internal TestOutputLoggerProvider Log { get; } = new();

    internal async Task<ShardGateway> GetAsync(RedisCluster cluster, ITestOutputHelper output, CancellationToken ct)
    {
        Log.Output = output;
        Task<ShardGateway> gateway;
        lock (_lock)
        {
            // Not the test's token: the gateway outlives the test that happened to start it (its waits are bounded).
            gateway = _gateway ??= ShardGateway.StartAsync(cluster, Log, null, CancellationToken.None);
        }

        return await gateway.WaitAsync(ct);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        Log.Output = null;
        if (_gateway is { IsCompletedSuccessfully: true } started)
        {
            await (await started).DisposeAsync();
        }

        Log.Dispose();
    }
}
