using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>
/// The control for <see cref="RouterNodeClientBatteryTests"/>: the same Node.js battery against a plain redis-server,
/// so the script's expectations are shown to be what Redis itself does.
/// </summary>
public sealed class StandaloneNodeClientBatteryTests(StandaloneRedisFixture redis, ITestOutputHelper output)
    : IClassFixture<StandaloneRedisFixture>
{
    [Fact]
    public async Task NodeRedisAndIoredis_DefaultOptionsAgainstRedis_MultiExecPubSubAndBlpopPass()
    {
        using var cts = new CancellationTokenSource(NodeClientBattery.RunBound + TimeSpan.FromMinutes(1));
        await NodeClientBattery.AssertAllStepsPassAsync(redis.Redis.Port, output, cts.Token);
    }
}
