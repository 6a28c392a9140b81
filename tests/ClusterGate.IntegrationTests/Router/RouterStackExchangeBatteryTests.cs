using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>
/// The router is a drop-in Redis for StackExchange.Redis with its default settings: the whole
/// <see cref="StackExchangeBattery"/> through the router port, with no error event.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RouterStackExchangeBatteryTests(RedisClusterFixture fixture, SharedRouterGateway shared, ITestOutputHelper output)
    : StackExchangeBattery(output), IClassFixture<SharedRouterGateway>, IDisposable
{
    private RouterGateway? _gateway;

    private protected override async Task<int> PortAsync(CancellationToken ct)
    {
        _gateway = await shared.GetAsync(fixture.Cluster, Output, ct);
        return _gateway.Port;
    }

    /// <summary>A SCAN through the router covers every master: the keys it returned live in all three groups.</summary>
    private protected override void CheckScannedKeys(IReadOnlyList<string> keys)
    {
        var gateway = _gateway ?? throw new InvalidOperationException("The router was not started.");
        Assert.Equal(3, keys.Select(k => gateway.GroupOfSlot(HashSlots.Of(k))).Distinct().Count());
    }

    public void Dispose() => shared.Log.Output = null;
}
