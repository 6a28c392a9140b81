using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>The router is a drop-in Redis for the Node.js clients node-redis and ioredis with their default options.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RouterNodeClientBatteryTests(RedisClusterFixture fixture, SharedRouterGateway shared, ITestOutputHelper output)
    : IClassFixture<SharedRouterGateway>, IDisposable
{
    [Fact]
    public async Task NodeRedisAndIoredis_DefaultOptionsThroughTheRouter_MultiExecPubSubAndBlpopPass()
    {
        using var cts = new CancellationTokenSource(NodeClientBattery.RunBound + TimeSpan.FromMinutes(1));
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await NodeClientBattery.AssertAllStepsPassAsync(gateway.Port, output, cts.Token);
    }

    public void Dispose() => shared.Log.Output = null;
}
