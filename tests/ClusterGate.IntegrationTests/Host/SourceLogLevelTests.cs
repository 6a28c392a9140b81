using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.Reliability;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Host;

/// <summary><c>--log-level-for SOURCE=LEVEL</c> in the real process: one source more detailed than the rest.</summary>
[Collection(ClusterCollection.Name)]
public sealed class SourceLogLevelTests(RedisClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Run_ShardSessionAtDebug_DebugLinesOfThatSourceOnly()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var gateway = await GatewayProcess.StartAsync(
            fixture.Cluster, descriptorLimit: 4096, ["--log-level", "Information", "--log-level-for", "ShardSession=Debug"], cts.Token);

        // A client on a shard port: its session's start and end are Debug events of ShardSession.
        await using (var client = await RespClient.ConnectAsync(gateway.ShardBasePort, cts.Token))
        {
            Assert.Equal("+PONG", (await client.CallAsync(TimeSpan.FromSeconds(5), cts.Token, "PING")).ToString());
        }

        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(gateway.Output.Contains(" DBG ShardSession: Session ", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10),
            "a Debug line of ShardSession",
            ct: cts.Token);
        var text = gateway.Output;
        output.WriteLine(text);
        var debug = text.Split('\n').Where(l => l.Contains(" DBG ", StringComparison.Ordinal)).ToList();
        Assert.All(debug, l => Assert.Contains(" DBG ShardSession: ", l, StringComparison.Ordinal));
        Assert.Contains(text.Split('\n'), l => l.Contains(" INF TopologyMonitor: ", StringComparison.Ordinal));
    }
}
