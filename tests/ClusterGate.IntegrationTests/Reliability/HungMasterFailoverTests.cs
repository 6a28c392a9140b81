using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.Router;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Reliability;

/// <summary>
/// A master that hangs without closing its sockets (SIGSTOP here; in the field a long crash report, a paused VM, a
/// network black hole) is failed over by the cluster like a crashed one. The gateway must follow the promotion as
/// fast as for a crash: its refreshes do not wait on the silent node, the router retires its connections to it, the
/// shard port moves without draining it. Private cluster; runs in the crash collection.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class HungMasterFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromMilliseconds(2000);
    private static readonly TimeSpan OpTimeout = TimeSpan.FromSeconds(30);

    /// <summary>From the promotion being visible on a surviving node to the gateway writing to the new master.</summary>
    private static readonly TimeSpan FollowBound = TimeSpan.FromSeconds(1.5);

    [Fact]
    public async Task MasterHangs_Promoted_BothFrontendsWriteToTheNewMasterAtOnceAndNoAcknowledgedWriteIsLost()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var cluster = await RedisCluster.StartAsync(new RedisClusterOptions { NodeTimeout = NodeTimeout }, cts.Token);
        using var log = new TestOutputLoggerProvider(output);
        await using var router = await RouterGateway.StartAsync(cluster, log, null, cts.Token);
        await using var shards = await ShardGateway.StartAsync(cluster, log, null, cts.Token);
        var group = router.GroupOfSlot(0);
        var master = router.MasterPortOfGroup(group);
        var tag = router.TagOfGroup(group);
        var shardPort = shards.PortOfGroup(shards.GroupOfSlot(0));

        var acks = new ConcurrentQueue<(string Key, string Value, long At)>();
        var errors = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();
        async Task WriterAsync(string frontend, int port, int writer)
        {
            await using var client = await RespClient.ConnectAsync(port, cts.Token);
            for (var seq = 0; !stop.IsCancellationRequested; seq++)
            {
                var key = string.Create(CultureInfo.InvariantCulture, $"hung:{{{tag}}}:{frontend}{writer}:{seq}");
                var reply = await client.CallAsync(OpTimeout, cts.Token, "SET", key, "v" + seq.ToString(CultureInfo.InvariantCulture));
                if (reply.IsOk)
                {
                    acks.Enqueue((key, "v" + seq.ToString(CultureInfo.InvariantCulture), Stopwatch.GetTimestamp()));
                }
                else
                {
                    errors.Enqueue($"{frontend}: {reply}");
                }

                await Task.Delay(5, cts.Token);
            }
        }

        var writers = Enumerable.Range(0, 4).Select(i => WriterAsync("router", router.Port, i))
            .Concat(Enumerable.Range(0, 4).Select(i => WriterAsync("shard", shardPort, i))).ToList();
        await Task.Delay(1000, cts.Token);

        await cluster.PauseAsync(master, cts.Token);
        var promotion = await cluster.WaitForPromotionAsync(master, TimeSpan.FromSeconds(30), cts.Token);
        var visible = Stopwatch.GetTimestamp();
        output.WriteLine($"master 127.0.0.1:{master} stopped; 127.0.0.1:{promotion.Port} promoted {promotion.AfterSegfault?.TotalMilliseconds:0} ms later");

        // Writes acknowledged through each frontend after the promotion became visible: the first one names the lag.
        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(acks.Any(a => a.At > visible && a.Key.Contains(":router", StringComparison.Ordinal))
                && acks.Any(a => a.At > visible && a.Key.Contains(":shard", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(20),
            "writes through both frontends to succeed after the promotion",
            ct: cts.Token);
        var routerLag = Stopwatch.GetElapsedTime(visible, acks.Where(a => a.At > visible && a.Key.Contains(":router", StringComparison.Ordinal)).Min(a => a.At));
        var shardLag = Stopwatch.GetElapsedTime(visible, acks.Where(a => a.At > visible && a.Key.Contains(":shard", StringComparison.Ordinal)).Min(a => a.At));
        output.WriteLine($"first write acknowledged after the promotion was visible: router +{routerLag.TotalMilliseconds:0} ms, shard port +{shardLag.TotalMilliseconds:0} ms");

        // The old master wakes up, finds itself replaced and becomes a replica; what it held is discarded.
        cluster.Resume(master);
        await Task.Delay(2000, cts.Token);
        await stop.CancelAsync();
        await Task.WhenAll(writers);
        await cluster.WaitForReplicaOfAsync(master, promotion.Port, TimeSpan.FromSeconds(60), cts.Token);

        output.WriteLine($"{acks.Count} writes acknowledged, errors: {string.Join("; ", errors.GroupBy(e => e[..Math.Min(e.Length, 40)]).Select(g => $"{g.Count()}x {g.Key}"))}");
        Assert.All(errors, e => Assert.Contains("outcome unknown", e, StringComparison.Ordinal));
        await using var check = await RespClient.ConnectAsync(promotion.Port, cts.Token);
        var lost = new List<string>();
        foreach (var (key, value, _) in acks)
        {
            if ((await check.CallAsync(TimeSpan.FromSeconds(5), cts.Token, "GET", key)).Text != value)
            {
                lost.Add(key);
            }
        }

        Assert.Empty(lost);
        Assert.True(routerLag < FollowBound, $"the router wrote to the new master {routerLag.TotalMilliseconds:0} ms after the promotion was visible");
        Assert.True(shardLag < FollowBound, $"the shard port wrote to the new master {shardLag.TotalMilliseconds:0} ms after the promotion was visible");
    }
}
