using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>One router in front of the shared healthy cluster for all tests of a class, started by the first test that asks.</summary>
public sealed class SharedRouterGateway : IAsyncLifetime
{
    private readonly object _lock = new();
    private Task<RouterGateway>? _gateway;

    internal TestOutputLoggerProvider Log { get; } = new();

    internal async Task<RouterGateway> GetAsync(RedisCluster cluster, ITestOutputHelper output, CancellationToken ct)
    {
        Log.Output = output;
        Task<RouterGateway> gateway;
        lock (_lock)
        {
            // Not the test's token: the gateway outlives the test that happened to start it (its waits are bounded).
            gateway = _gateway ??= RouterGateway.StartAsync(cluster, Log, null, CancellationToken.None);
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
