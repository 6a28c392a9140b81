using System.Diagnostics;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>
/// A master crashes (DEBUG SEGFAULT) under router clients that hold a connection state of their own: one in MULTI,
/// one blocked in BLPOP, one subscribed (plain and sharded), one running scripts by SHA. Each keeps its connection
/// and gets what the failure contract says: the transaction aborted with a clear error (nothing runs unseen), the
/// blocked pop either answered or "outcome unknown" but no element lost, messages published after the failover
/// delivered, scripts run on the promoted replica.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class RouterDropInFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan HeldReplyBound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan PromotionBound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task MasterCrashes_UnderTransactionBlockedPopSubscriberAndScripts_EachGetsTheContract()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var cluster = await RedisCluster.StartAsync(new RedisClusterOptions { NodeTimeout = TimeSpan.FromMilliseconds(2000) }, cts.Token);
        using var log = new TestOutputLoggerProvider(output);
        await using var gateway = await RouterGateway.StartAsync(cluster, log, null, cts.Token);
        var tag = gateway.TagOfGroup(0);
        var masterPort = gateway.MasterPortOfGroup(0);
        var (txKey, queue, shardChannel, channel) = ($"{{{tag}}}:tx", $"{{{tag}}}:queue", $"{{{tag}}}:events", "broadcast");

        await using var transaction = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var worker = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var subscriber = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var scripter = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var producer = await RespClient.ConnectAsync(gateway.Port, cts.Token);

        Assert.True((await transaction.CallAsync(ReplyBound, cts.Token, "MULTI")).IsOk);
        Assert.Equal("+QUEUED", (await transaction.CallAsync(ReplyBound, cts.Token, "SET", txKey, "before")).ToString());
        await worker.SendAsync(cts.Token, "BLPOP", queue, "0");
        Assert.Equal($"*[$subscribe, ${channel}, 1]", (await subscriber.CallAsync(ReplyBound, cts.Token, "SUBSCRIBE", channel)).ToString());
        Assert.Equal($"*[$ssubscribe, ${shardChannel}, 1]", (await subscriber.CallAsync(ReplyBound, cts.Token, "SSUBSCRIBE", shardChannel)).ToString());
        const string body = "redis.call('INCR', KEYS[1]) return redis.call('GET', KEYS[1])";
        Assert.Equal("1", (await scripter.CallAsync(ReplyBound, cts.Token, "EVAL", body, "1", $"{{{tag}}}:runs")).Text);
        var sha = (await scripter.CallAsync(ReplyBound, cts.Token, "SCRIPT", "LOAD", body)).Text!;

        // A script workload runs through the crash: every acknowledged increment must survive it.
        using var stopScripts = new CancellationTokenSource();
        var (acked, unknown, otherErrors) = (0, 0, new List<string>());
        var counter = $"{{{tag}}}:workload";
        var workload = Task.Run(
            async () =>
            {
                await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
                while (!stopScripts.IsCancellationRequested)
                {
                    var reply = await client.CallAsync(HeldReplyBound, cts.Token, "EVAL", body, "1", counter);
                    if (!reply.IsError)
                    {
                        acked++;
                    }
                    else if (reply.Text!.Contains("outcome unknown", StringComparison.Ordinal))
                    {
                        unknown++;
                    }
                    else
                    {
                        otherErrors.Add(reply.Text);
                    }
                }
            },
            CancellationToken.None);
        await Task.Delay(300, cts.Token);

        var crashed = Stopwatch.StartNew();
        await cluster.SegfaultAsync(masterPort, cts.Token);
        var promoted = await cluster.WaitForPromotionAsync(masterPort, PromotionBound, cts.Token);
        output.WriteLine($"{masterPort} crashed; {promoted.Port} promoted after {crashed.ElapsedMilliseconds} ms");
        await gateway.WaitForConfirmedMasterAsync(0, promoted.Port, PromotionBound, cts.Token);
        var ackedAtPromotion = acked;
        await RedisCluster.WaitUntilAsync(_ => Task.FromResult(acked > ackedAtPromotion + 20), HeldReplyBound, "scripts to run on the promoted master", ct: cts.Token);
        await stopScripts.CancelAsync();
        await workload;
        var total = long.Parse((await producer.CallAsync(ReplyBound, cts.Token, "GET", counter)).Text!, System.Globalization.CultureInfo.InvariantCulture);
        output.WriteLine($"script workload: {acked} acknowledged, {unknown} outcome unknown, {otherErrors.Count} other errors; counter {total}");
        Assert.Empty(otherErrors);
        Assert.InRange(total, acked, acked + unknown);

        // The transaction: EXEC answers a clear abort, nothing of it ran, the connection goes on.
        var exec = await transaction.CallAsync(HeldReplyBound, cts.Token, "EXEC");
        output.WriteLine($"EXEC after the failover: {exec}");
        Assert.StartsWith("EXECABORT Transaction discarded because the master failed over", exec.Text, StringComparison.Ordinal);
        Assert.True((await transaction.CallAsync(ReplyBound, cts.Token, "GET", txKey)).IsNull);
        Assert.True((await transaction.CallAsync(ReplyBound, cts.Token, "SET", txKey, "after")).IsOk);

        // The blocked pop: its BLPOP was lost with the master; an element pushed now is either popped by it
        // (when the router blocked it again) or still in the list, never gone.
        var blpop = await worker.ReadAsync(HeldReplyBound, cts.Token);
        output.WriteLine($"BLPOP after the failover: {blpop}");
        Assert.True(blpop.IsError && blpop.Text!.Contains("outcome unknown", StringComparison.OrdinalIgnoreCase), blpop.ToString());
        Assert.Equal(1, (await producer.CallAsync(ReplyBound, cts.Token, "LPUSH", queue, "job-after")).Integer);
        Assert.Equal(1, (await producer.CallAsync(ReplyBound, cts.Token, "LLEN", queue)).Integer);
        Assert.Equal($"*[${queue}, $job-after]", (await worker.CallAsync(ReplyBound, cts.Token, "BLPOP", queue, "1")).ToString());

        // The subscriber: subscriptions follow to the promoted master; messages published now arrive.
        await RedisCluster.WaitUntilAsync(
            async ct => (await producer.CallAsync(ReplyBound, ct, "SPUBLISH", shardChannel, "probe")).Integer == 1,
            HeldReplyBound,
            "the sharded subscription to be on the promoted master",
            ct: cts.Token);
        var received = new List<string>();
        await producer.CallAsync(ReplyBound, cts.Token, "PUBLISH", channel, "after-failover");
        await producer.CallAsync(ReplyBound, cts.Token, "SPUBLISH", shardChannel, "after-failover");
        while (!received.Contains($"*[$message, ${channel}, $after-failover]") || !received.Contains($"*[$smessage, ${shardChannel}, $after-failover]"))
        {
            received.Add((await subscriber.ReadAsync(ReplyBound, cts.Token)).ToString());
        }

        output.WriteLine($"subscriber received: {string.Join("; ", received)}");
        Assert.Equal("*[$pong, $]", (await subscriber.CallAsync(ReplyBound, cts.Token, "PING")).ToString());

        // Scripts: SCRIPT LOAD reached every node, the promoted replica too; once it forgets the script, the body the
        // router saw is loaded again on NOSCRIPT.
        Assert.Equal("2", (await scripter.CallAsync(HeldReplyBound, cts.Token, "EVALSHA", sha, "1", $"{{{tag}}}:runs")).Text);
        await cluster.CliAsync(promoted.Port, "SCRIPT", "FLUSH");
        Assert.Equal("3", (await scripter.CallAsync(ReplyBound, cts.Token, "EVALSHA", sha, "1", $"{{{tag}}}:runs")).Text);
    }

    [Fact]
    public async Task ShardChannelSlotMoves_SubscriptionFollowsToTheNewMaster_ClientSeesNoUnsubscribe()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var cluster = await RedisCluster.StartAsync(new RedisClusterOptions { NodeTimeout = TimeSpan.FromMilliseconds(2000) }, cts.Token);
        using var log = new TestOutputLoggerProvider(output);
        await using var gateway = await RouterGateway.StartAsync(cluster, log, null, cts.Token);
        var channel = $"{{{gateway.TagOfGroup(0)}}}:orders";
        var slot = HashSlots.Of(channel);
        var (source, target) = (gateway.MasterPortOfGroup(0), gateway.MasterPortOfGroup(1));
        await using var subscriber = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var publisher = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        Assert.Equal($"*[$ssubscribe, ${channel}, 1]", (await subscriber.CallAsync(ReplyBound, cts.Token, "SSUBSCRIBE", channel)).ToString());
        Assert.Equal(1, (await publisher.CallAsync(ReplyBound, cts.Token, "SPUBLISH", channel, "before")).Integer);
        Assert.Equal($"*[$smessage, ${channel}, $before]", (await subscriber.ReadAsync(ReplyBound, cts.Token)).ToString());

        // The channel's slot (no keys in it) moves to another master, as redis-cli --cluster reshard moves it.
        var (sourceId, targetId) = (cluster.Node(source).Id, cluster.Node(target).Id);
        var s = slot.ToString(System.Globalization.CultureInfo.InvariantCulture);
        await cluster.CliAsync(target, "CLUSTER", "SETSLOT", s, "IMPORTING", sourceId);
        await cluster.CliAsync(source, "CLUSTER", "SETSLOT", s, "MIGRATING", targetId);
        await cluster.CliAsync(target, "CLUSTER", "SETSLOT", s, "NODE", targetId);
        await cluster.CliAsync(source, "CLUSTER", "SETSLOT", s, "NODE", targetId);
        output.WriteLine($"slot {s} moved {source} -> {target}");

        // Messages published once the router resubscribed arrive; the client never saw an sunsubscribe.
        await RedisCluster.WaitUntilAsync(
            async ct => (await publisher.CallAsync(ReplyBound, ct, "SPUBLISH", channel, "probe")).Integer == 1,
            HeldReplyBound,
            "the shard subscription on the slot's new master",
            ct: cts.Token);
        Assert.Equal(1, (await publisher.CallAsync(ReplyBound, cts.Token, "SPUBLISH", channel, "after")).Integer);
        var received = new List<string>();
        while (!received.Contains($"*[$smessage, ${channel}, $after]"))
        {
            received.Add((await subscriber.ReadAsync(ReplyBound, cts.Token)).ToString());
        }

        output.WriteLine($"subscriber received: {string.Join("; ", received)}");
        Assert.DoesNotContain(received, m => m.Contains("sunsubscribe", StringComparison.Ordinal));
        Assert.Contains($"{channel}", await cluster.CliAsync(target, "PUBSUB", "SHARDCHANNELS"), StringComparison.Ordinal);

        // SUNSUBSCRIBE of the client's own still answers as Redis does.
        Assert.Equal($"*[$sunsubscribe, ${channel}, 0]", (await subscriber.CallAsync(ReplyBound, cts.Token, "SUNSUBSCRIBE", channel)).ToString());
    }
}
