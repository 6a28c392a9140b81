using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>
/// The control for <see cref="RouterStackExchangeBatteryTests"/>: the same <see cref="StackExchangeBattery"/> against a
/// plain redis-server, so every expectation of the battery is shown to be what Redis itself does.
/// </summary>
public sealed class StandaloneStackExchangeBatteryTests(StandaloneRedisFixture redis, ITestOutputHelper output)
    : StackExchangeBattery(output), IClassFixture<StandaloneRedisFixture>
{
    private protected override Task<int> PortAsync(CancellationToken ct) => Task.FromResult(redis.Redis.Port);
}
