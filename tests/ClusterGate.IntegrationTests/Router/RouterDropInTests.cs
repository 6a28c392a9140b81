using System.Diagnostics;
using System.Globalization;
using ClusterGate.Core.Frontends;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>
/// The router as a drop-in Redis for a client with no cluster support: transactions, pub/sub, blocking commands,
/// RESP3, CLIENT REPLY, MONITOR, scripts, and the commands it refuses on purpose, each checked against what a
/// direct connection to Redis answers, on the shared healthy cluster.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RouterDropInTests(RedisClusterFixture fixture, SharedRouterGateway shared, ITestOutputHelper output)
    : IClassFixture<SharedRouterGateway>
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(120);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(10);
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Sync_Refused_TheSharedConnectionsKeepServingEveryClient()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var keys = gateway.Monitor.Current.Groups.Select(g => $"{{{gateway.TagOfGroup(g.Id)}}}:sync:{_run}").ToList();

        // A replica handshake through the router would turn a shared connection into a replication stream.
        await using var rogue = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        var sync = await rogue.CallAsync(ReplyBound, cts.Token, "SYNC");
        Assert.True(sync.IsError, sync.ToString());
        Assert.Contains("SYNC is not available through the router", sync.Text, StringComparison.Ordinal);
        await rogue.SendRawAsync("PSYNC ? -1\r\n"u8.ToArray(), cts.Token);
        Assert.Contains("PSYNC is not available", (await rogue.ReadAsync(ReplyBound, cts.Token)).Text, StringComparison.Ordinal);
        Assert.Equal("+PONG", (await rogue.CallAsync(ReplyBound, cts.Token, "PING")).ToString());

        // Every other client's writes land and read back, on every master, directly too.
        await using var other = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        foreach (var key in keys)
        {
            Assert.True((await other.CallAsync(ReplyBound, cts.Token, "SET", key, "after-sync")).IsOk);
            await using var direct = await RespClient.ConnectAsync(gateway.MasterPortOfSlot(HashSlots.Of(key)), cts.Token);
            Assert.Equal("after-sync", (await direct.CallAsync(ReplyBound, cts.Token, "GET", key)).Text);
        }
    }

    [Theory]
    [InlineData("PSYNC|?|-1", "PSYNC is not available through the router")]
    [InlineData("REPLCONF|listening-port|1", "REPLCONF is not available through the router")]
    [InlineData("FAILOVER", "FAILOVER is not available through the router")]
    [InlineData("SHUTDOWN|NOSAVE", "SHUTDOWN is not available through the router")]
    [InlineData("REPLICAOF|NO|ONE", "REPLICAOF is not available through the router")]
    [InlineData("SLAVEOF|NO|ONE", "SLAVEOF is not available through the router")]
    [InlineData("DEBUG|SLEEP|0", "DEBUG is not available through the router")]
    [InlineData("SWAPDB|0|1", "SWAPDB is not available through the router")]
    [InlineData("MODULE|LIST", "MODULE LIST is not available through the router")]
    [InlineData("CLIENT|PAUSE|10", "CLIENT PAUSE is not supported by the router: it would pause the nodes")]
    [InlineData("CLIENT|KILL|ID|1", "CLIENT KILL is not supported by the router: the router's connections")]
    [InlineData("CLIENT|TRACKING|ON", "CLIENT TRACKING is not supported by the router: its invalidations")]
    public async Task RefusedOnPurpose_ClearErrorWithTheReason_ConnectionStaysUsable(string command, string expected)
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        var reply = await client.CallAsync(ReplyBound, cts.Token, command.Split('|'));
        output.WriteLine($"{command.Replace('|', ' ')} -> {reply}");
        Assert.True(reply.IsError);
        Assert.Contains(expected, reply.Text, StringComparison.Ordinal);
        Assert.EndsWith("(ClusterGate)", reply.Text, StringComparison.Ordinal);
        Assert.Equal("+PONG", (await client.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        foreach (var port in gateway.MasterPorts)
        {
            // Nothing reached a node: every master still answers and is still a master.
            Assert.Contains("role:master", (await fixture.Cluster.CliAsync(port, "INFO", "replication")), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task MultiExec_QueuedThenRunAsOne_RepliesAsRedis()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var tag = gateway.TagOfGroup(1);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        var (a, b) = ($"{{{tag}}}:tx:a:{_run}", $"{{{tag}}}:tx:b:{_run}");

        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "MULTI")).IsOk);
        Assert.Equal("+QUEUED", (await client.CallAsync(ReplyBound, cts.Token, "SET", a, "1")).ToString());
        Assert.Equal("+QUEUED", (await client.CallAsync(ReplyBound, cts.Token, "INCR", a)).ToString());
        Assert.Equal("+QUEUED", (await client.CallAsync(ReplyBound, cts.Token, "RPUSH", b, "x", "y")).ToString());
        Assert.Equal("+QUEUED", (await client.CallAsync(ReplyBound, cts.Token, "LRANGE", b, "0", "-1")).ToString());
        Assert.Equal("+QUEUED", (await client.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        var exec = await client.CallAsync(ReplyBound, cts.Token, "EXEC");
        Assert.Equal("*[+OK, 2, 2, *[$x, $y], +PONG]", exec.ToString());

        // MULTI inside MULTI, EXEC and DISCARD without MULTI: Redis's own texts.
        Assert.Equal("-ERR EXEC without MULTI", (await client.CallAsync(ReplyBound, cts.Token, "EXEC")).ToString());
        Assert.Equal("-ERR DISCARD without MULTI", (await client.CallAsync(ReplyBound, cts.Token, "DISCARD")).ToString());
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "MULTI")).IsOk);
        Assert.Equal("-ERR MULTI calls can not be nested", (await client.CallAsync(ReplyBound, cts.Token, "MULTI")).ToString());
        Assert.Equal("+QUEUED", (await client.CallAsync(ReplyBound, cts.Token, "SET", a, "discarded")).ToString());
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "DISCARD")).IsOk);
        Assert.Equal("2", (await client.CallAsync(ReplyBound, cts.Token, "GET", a)).Text);

        // A command Redis would refuse at queue time aborts the transaction at EXEC; nothing of it runs.
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "MULTI")).IsOk);
        Assert.Equal("+QUEUED", (await client.CallAsync(ReplyBound, cts.Token, "SET", a, "aborted")).ToString());
        Assert.StartsWith("ERR unknown command 'NOSUCHCOMMAND'", (await client.CallAsync(ReplyBound, cts.Token, "NOSUCHCOMMAND", "x")).Text, StringComparison.Ordinal);
        Assert.Equal("-ERR wrong number of arguments for 'get' command", (await client.CallAsync(ReplyBound, cts.Token, "GET")).ToString());
        Assert.Equal("-EXECABORT Transaction discarded because of previous errors.", (await client.CallAsync(ReplyBound, cts.Token, "EXEC")).ToString());
        Assert.Equal("2", (await client.CallAsync(ReplyBound, cts.Token, "GET", a)).Text);

        // An error while running (not at queue time) is that command's reply; the others run, as in Redis.
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "MULTI")).IsOk);
        await client.CallAsync(ReplyBound, cts.Token, "INCR", b);
        await client.CallAsync(ReplyBound, cts.Token, "INCR", a);
        var mixed = await client.CallAsync(ReplyBound, cts.Token, "EXEC");
        Assert.StartsWith("WRONGTYPE", mixed.Items![0].Text, StringComparison.Ordinal);
        Assert.Equal(3, mixed.Items[1].Integer);
    }

    [Fact]
    public async Task MultiExec_KeysOfTwoSlots_CrossSlotAndNothingRuns()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        var (a, b) = ($"{{{gateway.TagOfGroup(0)}}}:xs:{_run}", $"{{{gateway.TagOfGroup(2)}}}:xs:{_run}");

        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "MULTI")).IsOk);
        Assert.Equal("+QUEUED", (await client.CallAsync(ReplyBound, cts.Token, "SET", a, "1")).ToString());
        Assert.Equal("+QUEUED", (await client.CallAsync(ReplyBound, cts.Token, "SET", b, "1")).ToString());
        var exec = await client.CallAsync(ReplyBound, cts.Token, "EXEC");
        Assert.Equal("-CROSSSLOT Keys in request don't hash to the same slot", exec.ToString());
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "EXISTS", a)).Integer == 0);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "EXISTS", b)).Integer == 0);
    }

    [Fact]
    public async Task Watch_KeyChangedByAnotherClient_ExecAnswersNilAndNothingRuns()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var key = $"{{{gateway.TagOfGroup(2)}}}:watch:{_run}";
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var other = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "SET", key, "0")).IsOk);

        // Untouched: the transaction runs.
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "WATCH", key)).IsOk);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "MULTI")).IsOk);
        await client.CallAsync(ReplyBound, cts.Token, "INCR", key);
        Assert.Equal("*[1]", (await client.CallAsync(ReplyBound, cts.Token, "EXEC")).ToString());

        // Changed by another client between WATCH and EXEC: nil, and the INCR never ran.
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "WATCH", key)).IsOk);
        Assert.True((await other.CallAsync(ReplyBound, cts.Token, "SET", key, "10")).IsOk);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "MULTI")).IsOk);
        await client.CallAsync(ReplyBound, cts.Token, "INCR", key);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "EXEC")).IsNull);
        Assert.Equal("10", (await client.CallAsync(ReplyBound, cts.Token, "GET", key)).Text);

        // UNWATCH forgets the watch; WATCH inside MULTI is Redis's error.
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "WATCH", key)).IsOk);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "UNWATCH")).IsOk);
        Assert.True((await other.CallAsync(ReplyBound, cts.Token, "SET", key, "20")).IsOk);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "MULTI")).IsOk);
        Assert.Equal("-ERR WATCH inside MULTI is not allowed", (await client.CallAsync(ReplyBound, cts.Token, "WATCH", key)).ToString());
        await client.CallAsync(ReplyBound, cts.Token, "INCR", key);
        Assert.Equal("*[21]", (await client.CallAsync(ReplyBound, cts.Token, "EXEC")).ToString());
    }

    [Fact]
    public async Task PubSub_Resp2_SubscribePSubscribeSSubscribe_MessagesArriveAndCountsAreTheCluster()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var (channel, shardChannel) = ($"news:{_run}", $"{{{gateway.TagOfGroup(1)}}}:shard:{_run}");
        await using var subscriber = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var publisher = await RespClient.ConnectAsync(gateway.Port, cts.Token);

        Assert.Equal($"*[$subscribe, ${channel}, 1]", (await subscriber.CallAsync(ReplyBound, cts.Token, "SUBSCRIBE", channel)).ToString());
        Assert.Equal($"*[$psubscribe, $news:{_run[..4]}*, 2]", (await subscriber.CallAsync(ReplyBound, cts.Token, "PSUBSCRIBE", $"news:{_run[..4]}*")).ToString());
        Assert.Equal($"*[$ssubscribe, ${shardChannel}, 1]", (await subscriber.CallAsync(ReplyBound, cts.Token, "SSUBSCRIBE", shardChannel)).ToString());

        // Subscribed mode: Redis's refusal for other commands, PING as [pong, ""].
        var get = await subscriber.CallAsync(ReplyBound, cts.Token, "GET", "x");
        Assert.Equal("-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", get.ToString());
        Assert.Equal("*[$pong, $]", (await subscriber.CallAsync(ReplyBound, cts.Token, "PING")).ToString());

        Assert.Equal(1, (await publisher.CallAsync(ReplyBound, cts.Token, "PUBSUB", "NUMSUB", channel)).Items![1].Integer);
        Assert.Contains(channel, (await publisher.CallAsync(ReplyBound, cts.Token, "PUBSUB", "CHANNELS", "news:*")).Items!.Select(i => i.Text));
        Assert.True((await publisher.CallAsync(ReplyBound, cts.Token, "PUBSUB", "NUMPAT")).Integer >= 1);
        Assert.Equal(1, (await publisher.CallAsync(ReplyBound, cts.Token, "PUBSUB", "SHARDNUMSUB", shardChannel)).Items![1].Integer);

        // Received twice (the channel and the pattern), counted twice, as a single Redis counts.
        Assert.Equal(2, (await publisher.CallAsync(ReplyBound, cts.Token, "PUBLISH", channel, "hello")).Integer);
        var messages = new[] { await subscriber.ReadAsync(ReplyBound, cts.Token), await subscriber.ReadAsync(ReplyBound, cts.Token) }.Select(m => m.ToString()).Order().ToList();
        Assert.Equal([$"*[$message, ${channel}, $hello]", $"*[$pmessage, $news:{_run[..4]}*, ${channel}, $hello]"], messages);
        Assert.Equal(1, (await publisher.CallAsync(ReplyBound, cts.Token, "SPUBLISH", shardChannel, "sharded")).Integer);
        Assert.Equal($"*[$smessage, ${shardChannel}, $sharded]", (await subscriber.ReadAsync(ReplyBound, cts.Token)).ToString());

        // Unsubscribing from everything returns to normal mode.
        Assert.Equal($"*[$sunsubscribe, ${shardChannel}, 0]", (await subscriber.CallAsync(ReplyBound, cts.Token, "SUNSUBSCRIBE")).ToString());
        Assert.Equal($"*[$punsubscribe, $news:{_run[..4]}*, 1]", (await subscriber.CallAsync(ReplyBound, cts.Token, "PUNSUBSCRIBE")).ToString());
        Assert.Equal($"*[$unsubscribe, ${channel}, 0]", (await subscriber.CallAsync(ReplyBound, cts.Token, "UNSUBSCRIBE")).ToString());
        Assert.Equal("+PONG", (await subscriber.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        Assert.Equal(0, (await publisher.CallAsync(ReplyBound, cts.Token, "PUBSUB", "NUMSUB", channel)).Items![1].Integer);
    }

    [Fact]
    public async Task Resp3_HelloSubscribeAndCommandsOnOneConnection_PushesAndTypedReplies()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var key = $"{{{gateway.TagOfGroup(0)}}}:r3:{_run}";
        var channel = $"r3:{_run}";
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var publisher = await RespClient.ConnectAsync(gateway.Port, cts.Token);

        var hello = await client.CallAsync(ReplyBound, cts.Token, "HELLO", "3", "SETNAME", "resp3-client");
        Assert.Equal('%', hello.Type);
        var fields = hello.Items!.Chunk(2).ToDictionary(p => p[0].Text!, p => p[1].ToString());
        Assert.Equal("3", fields["proto"]);
        Assert.Equal("standalone", fields["mode"][1..]);
        Assert.Equal("resp3-client", (await client.CallAsync(ReplyBound, cts.Token, "CLIENT", "GETNAME")).Text);

        // RESP3 types from the masters: a map, a double, null.
        await client.CallAsync(ReplyBound, cts.Token, "HSET", key, "f", "v");
        Assert.Equal("%[$f, $v]", (await client.CallAsync(ReplyBound, cts.Token, "HGETALL", key)).ToString());
        Assert.Equal(',', (await client.CallAsync(ReplyBound, cts.Token, "ZINCRBY", key + "z", "1.5", "m")).Type);
        Assert.Equal('_', (await client.CallAsync(ReplyBound, cts.Token, "GET", key + "none")).Type);

        // Subscribed in RESP3, every command still works and messages arrive as pushes in between.
        Assert.Equal($">[$subscribe, ${channel}, 1]", (await client.CallAsync(ReplyBound, cts.Token, "SUBSCRIBE", channel)).ToString());
        Assert.Equal("%[$f, $v]", (await client.CallAsync(ReplyBound, cts.Token, "HGETALL", key)).ToString());
        await publisher.CallAsync(ReplyBound, cts.Token, "PUBLISH", channel, "m1");
        Assert.Equal($">[$message, ${channel}, $m1]", (await client.ReadAsync(ReplyBound, cts.Token)).ToString());
        Assert.Equal("+PONG", (await client.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        Assert.Equal($">[$unsubscribe, ${channel}, 0]", (await client.CallAsync(ReplyBound, cts.Token, "UNSUBSCRIBE")).ToString());

        // Back to RESP2 on the same connection.
        Assert.Equal('*', (await client.CallAsync(ReplyBound, cts.Token, "HELLO", "2")).Type);
        Assert.Equal("*[$f, $v]", (await client.CallAsync(ReplyBound, cts.Token, "HGETALL", key)).ToString());
        Assert.StartsWith("NOPROTO", (await client.CallAsync(ReplyBound, cts.Token, "HELLO", "4")).Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subscriber_NeverReads_CutAtThePubSubOutputLimit_OthersServed()
    {
        using var cts = new CancellationTokenSource(TestBound);
        using var log = new TestOutputLoggerProvider(output);
        var limit = new OutputBufferLimit(4L << 20, 1L << 20, TimeSpan.FromSeconds(1));
        await using var gateway = await RouterGateway.StartAsync(fixture.Cluster, log, o => o.PubSubOutputLimit = limit, cts.Token);
        var channel = $"flood:{_run}";
        await using var hog = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        hog.Socket.ReceiveBufferSize = 4096;
        Assert.Equal($"*[$subscribe, ${channel}, 1]", (await hog.CallAsync(ReplyBound, cts.Token, "SUBSCRIBE", channel)).ToString());

        // 200 messages of 100 KB: 20 MB for a subscriber that reads none.
        await using var publisher = await RespClient.ConnectAsync(gateway.Port, cts.Token);

        // Answered, so the gateway counts the publisher's session: a connect returns before the gateway accepts it, and
        // the loop below would otherwise stop at once on a count of 1 and publish nothing.
        Assert.Equal("+PONG", (await publisher.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        Assert.Equal(2, gateway.Frontend.ActiveSessions);
        var payload = new string('m', 100 * 1024);
        for (var i = 0; i < 200 && gateway.Frontend.ActiveSessions == 2; i++)
        {
            await publisher.CallAsync(ReplyBound, cts.Token, "PUBLISH", channel, payload);
        }

        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(gateway.Frontend.ActiveSessions == 1),
            TimeSpan.FromSeconds(30),
            "the router to disconnect the subscriber that does not read",
            ct: cts.Token);
        Assert.Equal("+PONG", (await publisher.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
    }

    [Fact]
    public async Task Blpop_WokenByAnotherClient_TimesOutOnTime_DepartedClientTakesNoJob()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var key = $"{{{gateway.TagOfGroup(2)}}}:jobs:{_run}";
        var masterPort = gateway.MasterPortOfSlot(HashSlots.Of(key));
        await using var worker = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var producer = await RespClient.ConnectAsync(gateway.Port, cts.Token);

        // Woken by an LPUSH of another router client.
        await worker.SendAsync(cts.Token, "BLPOP", key, "0");
        await Task.Delay(200, cts.Token);
        Assert.Equal(1, (await producer.CallAsync(ReplyBound, cts.Token, "LPUSH", key, "job0")).Integer);
        Assert.Equal($"*[${key}, $job0]", (await worker.ReadAsync(ReplyBound, cts.Token)).ToString());

        // The timeout is Redis's own; other clients are served meanwhile.
        var watch = Stopwatch.StartNew();
        await worker.SendAsync(cts.Token, "BLPOP", key, "1");
        Assert.Equal("+PONG", (await producer.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        var timedOut = await worker.ReadAsync(ReplyBound, cts.Token);
        output.WriteLine($"BLPOP 1 answered {timedOut} after {watch.ElapsedMilliseconds} ms");
        Assert.True(timedOut.IsNull);
        Assert.InRange(watch.ElapsedMilliseconds, 900, 5000);

        // Fifty clients block forever and leave: their connections on the master end with them, and no job is taken.
        for (var i = 0; i < 50; i++)
        {
            await using var departed = await RespClient.ConnectAsync(gateway.Port, cts.Token);
            await departed.SendAsync(cts.Token, "BLPOP", key, "0");
        }

        await RedisCluster.WaitUntilAsync(
            async ct => !(await fixture.Cluster.CliAsync(masterPort, ["CLIENT", "LIST"], ct)).Contains("cmd=blpop", StringComparison.Ordinal),
            TimeSpan.FromSeconds(15),
            "the departed clients' BLPOPs to end on the master",
            ct: cts.Token);
        Assert.Equal(3, (await producer.CallAsync(ReplyBound, cts.Token, "LPUSH", key, "job1", "job2", "job3")).Integer);
        await Task.Delay(300, cts.Token);
        Assert.Equal(3, (await producer.CallAsync(ReplyBound, cts.Token, "LLEN", key)).Integer);
        await producer.CallAsync(ReplyBound, cts.Token, "DEL", key);
    }

    [Fact]
    public async Task Xread_WithoutBlockShared_WithBlockWokenByXadd()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var stream = $"{{{gateway.TagOfGroup(0)}}}:stream:{_run}";
        await using var reader = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var writer = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        var first = (await writer.CallAsync(ReplyBound, cts.Token, "XADD", stream, "*", "n", "1")).Text!;
        var read = await reader.CallAsync(ReplyBound, cts.Token, "XREAD", "COUNT", "10", "STREAMS", stream, "0");
        Assert.Equal($"*[*[${stream}, *[*[${first}, *[$n, $1]]]]]", read.ToString());

        await reader.SendAsync(cts.Token, "XREAD", "BLOCK", "0", "STREAMS", stream, "$");
        await Task.Delay(200, cts.Token);
        var second = (await writer.CallAsync(ReplyBound, cts.Token, "XADD", stream, "*", "n", "2")).Text!;
        Assert.Equal($"*[*[${stream}, *[*[${second}, *[$n, $2]]]]]", (await reader.ReadAsync(ReplyBound, cts.Token)).ToString());
    }

    [Fact]
    public async Task OwnConnectionsPerMaster_AtTheLimit_ClearErrorThenServedWhenOneEnds()
    {
        using var cts = new CancellationTokenSource(TestBound);
        using var log = new TestOutputLoggerProvider(output);
        await using var gateway = await RouterGateway.StartAsync(fixture.Cluster, log, o => o.MaxOwnConnectionsPerMaster = 2, cts.Token);
        var key = $"{{{gateway.TagOfGroup(1)}}}:limit:{_run}";
        await using var first = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var second = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var third = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await first.SendAsync(cts.Token, "BLPOP", key, "0");
        await second.SendAsync(cts.Token, "BLPOP", key, "0");
        await Task.Delay(300, cts.Token);

        var refused = await third.CallAsync(ReplyBound, cts.Token, "BLPOP", key, "0");
        output.WriteLine(refused.ToString());
        Assert.Contains("'BLPOP' needs a connection of its own and the router holds its most to that master now", refused.Text, StringComparison.Ordinal);
        Assert.True((await third.CallAsync(ReplyBound, cts.Token, "SET", key + "x", "shared still works")).IsOk);

        // One blocked client is served and returns its connection: the next one gets it.
        await third.CallAsync(ReplyBound, cts.Token, "RPUSH", key, "a");
        var served = await Task.WhenAny(first.ReadAsync(ReplyBound, cts.Token), second.ReadAsync(ReplyBound, cts.Token));
        Assert.Equal($"*[${key}, $a]", (await served).ToString());
        await RedisCluster.WaitUntilAsync(
            async ct => (await third.CallAsync(ReplyBound, ct, "BLPOP", key, "0.1")).IsNull,
            TimeSpan.FromSeconds(5),
            "the served client's connection to be counted back so another client's BLPOP gets one",
            ct: cts.Token);
    }

    [Fact]
    public async Task ClientReplyOffSkipOn_RepliesSuppressedAsInRedis()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var key = $"{{{gateway.TagOfGroup(0)}}}:reply:{_run}";
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await client.SendAsync(cts.Token, "CLIENT", "REPLY", "OFF");
        await client.SendAsync(cts.Token, "SET", key, "1");
        await client.SendAsync(cts.Token, "INCR", key);
        await client.SendAsync(cts.Token, "CLIENT", "REPLY", "ON");
        Assert.True((await client.ReadAsync(ReplyBound, cts.Token)).IsOk);
        Assert.Equal("2", (await client.CallAsync(ReplyBound, cts.Token, "GET", key)).Text);
        await client.SendAsync(cts.Token, "CLIENT", "REPLY", "SKIP");
        await client.SendAsync(cts.Token, "INCR", key);
        Assert.Equal("3", (await client.CallAsync(ReplyBound, cts.Token, "GET", key)).Text);
    }

    [Fact]
    public async Task Monitor_SeesCommandsOfOtherClientsOnEveryMaster()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var monitor = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        Assert.True((await monitor.CallAsync(ReplyBound, cts.Token, "MONITOR")).IsOk);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        var keys = gateway.Monitor.Current.Groups.Select(g => $"{{{gateway.TagOfGroup(g.Id)}}}:mon:{_run}").ToList();
        foreach (var key in keys)
        {
            await client.CallAsync(ReplyBound, cts.Token, "SET", key, "watched");
        }

        var seen = new List<string>();
        while (!keys.All(k => seen.Any(l => l.Contains(k, StringComparison.Ordinal))))
        {
            seen.Add((await monitor.ReadAsync(ReplyBound, cts.Token)).Text!);
        }

        Assert.All(seen.Where(l => l.Contains($":mon:{_run}", StringComparison.Ordinal)), l => Assert.Matches("""^\d+\.\d+ \[0 [0-9.:]+\] "(?i:set)" ".*" "watched"$""", l));
    }

    [Fact]
    public async Task Scripts_EvalshaAfterTheNodesForgotTheScript_LoadedAgainAndRun()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        var body = $"return 'ran {_run} ' .. (KEYS[1] or 'nokey')";
        var key = $"{{{gateway.TagOfGroup(1)}}}:script:{_run}";
        Assert.Equal($"ran {_run} {key}", (await client.CallAsync(ReplyBound, cts.Token, "EVAL", body, "1", key)).Text);
        var sha = (await fixture.Cluster.CliAsync(fixture.Cluster.Nodes[0].Port, "SCRIPT", "LOAD", body)).Trim();

        // Every node forgets its scripts (what a promoted replica looks like: Redis does not replicate them).
        foreach (var node in fixture.Cluster.Nodes)
        {
            await fixture.Cluster.CliAsync(node.Port, "SCRIPT", "FLUSH");
        }

        Assert.Equal($"ran {_run} {key}", (await client.CallAsync(ReplyBound, cts.Token, "EVALSHA", sha, "1", key)).Text);
        Assert.Equal($"ran {_run} nokey", (await client.CallAsync(ReplyBound, cts.Token, "EVALSHA", sha.ToUpperInvariant(), "0")).Text);

        // A script the gateway never saw: Redis's NOSCRIPT; bad numkeys: Redis's texts.
        Assert.Equal("-NOSCRIPT No matching script. Please use EVAL.", (await client.CallAsync(ReplyBound, cts.Token, "EVALSHA", new string('0', 40), "0")).ToString());
        Assert.Equal("-ERR Number of keys can't be greater than number of args", (await client.CallAsync(ReplyBound, cts.Token, "EVAL", "return 1", "2", "k")).ToString());
        Assert.Equal("-ERR Number of keys can't be negative", (await client.CallAsync(ReplyBound, cts.Token, "EVAL", "return 1", "-1")).ToString());
        Assert.Equal("-ERR Number of keys can't be greater than number of args", (await client.CallAsync(ReplyBound, cts.Token, "FCALL", "f", "2", "k")).ToString());

        // SCRIPT LOAD reaches every node, replicas included, so a promoted replica has it.
        var loaded = (await client.CallAsync(ReplyBound, cts.Token, "SCRIPT", "LOAD", "return 'loaded'")).Text!;
        foreach (var node in fixture.Cluster.Nodes)
        {
            Assert.Equal("1", (await fixture.Cluster.CliAsync(node.Port, "SCRIPT", "EXISTS", loaded)).Trim());
        }

        Assert.Equal("*[1, 0]", (await client.CallAsync(ReplyBound, cts.Token, "SCRIPT", "EXISTS", loaded, new string('0', 40))).ToString());
    }

    [Fact]
    public async Task LongScript_OtherClientsOfThatMasterNotCut_ScriptKillThroughTheRouterEndsIt()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        var key = $"{{{gateway.TagOfGroup(0)}}}:busy:{_run}";
        var masterPort = gateway.MasterPortOfSlot(HashSlots.Of(key));
        await using var scripter = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var other = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var killer = await RespClient.ConnectAsync(gateway.Port, cts.Token);

        // Redis answers other clients BUSY (and keeps its cluster bus going, so the cluster does not fail it over)
        // once a script has run for busy-reply-threshold; 5 s by default, longer than this cluster's node timeout.
        Assert.True((await other.CallAsync(ReplyBound, cts.Token, "CONFIG", "SET", "busy-reply-threshold", "300")).IsOk);
        try
        {
            await LongScriptAsync(gateway, key, masterPort, scripter, other, killer, cts.Token);
        }
        finally
        {
            // After a failure a script may still run: killed on the master itself, so it does not stall the tests after this one.
            await using var direct = await RespClient.ConnectAsync(masterPort, CancellationToken.None);
            await direct.CallAsync(TimeSpan.FromSeconds(30), CancellationToken.None, "SCRIPT", "KILL");

            // On a connection of its own: after a failure, `other` may still have replies unread, and the failure must show.
            await using var restore = await RespClient.ConnectAsync(gateway.Port, CancellationToken.None);
            await restore.CallAsync(TimeSpan.FromSeconds(30), CancellationToken.None, "CONFIG", "SET", "busy-reply-threshold", "5000");
        }
    }

    private async Task LongScriptAsync(RouterGateway gateway, string key, int masterPort, RespClient scripter, RespClient other, RespClient killer, CancellationToken ct)
    {
        // Longer than the router's reply timeout (10 s): a busy master's shared connection is not closed as stalled.
        Assert.Equal(TimeSpan.FromSeconds(10), gateway.Options.ReplyTimeout);
        var watch = Stopwatch.StartNew();
        await scripter.SendAsync(ct, "EVAL", "local t = redis.call('TIME')[1] while redis.call('TIME')[1] - t < 12 do end return 'done'", "1", key);
        await Task.Delay(500, ct);
        for (var i = 0; i < 4; i++)
        {
            await other.SendAsync(ct, "SET", key + i, "v");
        }

        for (var i = 0; i < 4; i++)
        {
            // Behind the script on a shared connection (answered when it ends), or Redis's BUSY on another one.
            var reply = await other.ReadAsync(TimeSpan.FromSeconds(30), ct);
            output.WriteLine($"SET during the script: {reply} after {watch.ElapsedMilliseconds} ms");
            Assert.True(reply.IsOk || reply.Text!.StartsWith("BUSY", StringComparison.Ordinal), reply.ToString());
        }

        var finished = await scripter.ReadAsync(TimeSpan.FromSeconds(30), ct);
        output.WriteLine($"script: {finished} after {watch.ElapsedMilliseconds} ms");
        Assert.Equal("done", finished.Text);
        Assert.Contains("role:master", await fixture.Cluster.CliAsync(masterPort, "INFO", "replication"), StringComparison.Ordinal);

        // SCRIPT KILL through the router reaches the master while the script runs.
        await scripter.SendAsync(ct, "EVAL", "local t = redis.call('TIME')[1] while redis.call('TIME')[1] - t < 20 do end return 'not killed'", "1", key);
        // Running once the master answers others BUSY (past busy-reply-threshold); a fixed delay was too short on a
        // loaded machine, and SCRIPT KILL then met NOTBUSY.
        await using var probe = await RespClient.ConnectAsync(masterPort, ct);
        await RedisCluster.WaitUntilAsync(
            async c => (await probe.CallAsync(ReplyBound, c, "PING")).Text?.StartsWith("BUSY", StringComparison.Ordinal) == true,
            TimeSpan.FromSeconds(15),
            "the second script to run on the master",
            ct: ct);

        // A refresh that fell in the script's silent start (before busy-reply-threshold) took the master for down; the
        // next one finds it answering BUSY and confirms it again. SCRIPT KILL goes to the confirmed masters.
        var group = gateway.GroupOfSlot(HashSlots.Of(key));
        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(gateway.Monitor.Current.GroupById(group)?.MasterConfirmed == true),
            TimeSpan.FromSeconds(15),
            "the gateway to confirm the busy master",
            ct: ct);
        watch.Restart();
        Assert.True((await killer.CallAsync(ReplyBound, ct, "SCRIPT", "KILL")).IsOk);
        var killed = await scripter.ReadAsync(ReplyBound, ct);
        output.WriteLine($"killed: {killed} {watch.ElapsedMilliseconds} ms after SCRIPT KILL");
        Assert.StartsWith("ERR Script killed by user with SCRIPT KILL", killed.Text, StringComparison.Ordinal);
        Assert.True((await other.CallAsync(ReplyBound, ct, "SET", key, "after")).IsOk);
        Assert.Equal("-NOTBUSY No scripts in execution right now.", (await killer.CallAsync(ReplyBound, ct, "SCRIPT", "KILL")).ToString());
    }

    [Fact]
    public async Task UnknownSubcommandsAndArity_RedisOwnTexts()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        await using var direct = await RespClient.ConnectAsync(gateway.MasterPorts[0], cts.Token);
        foreach (var command in new[] { new[] { "CONFIG", "Nope" }, ["CLIENT", "Nope"], ["OBJECT", "nope", "k"], ["GET"], ["SET", "k"], ["XINFO", "nope"] })
        {
            var expected = await direct.CallAsync(ReplyBound, cts.Token, command);
            var actual = await client.CallAsync(ReplyBound, cts.Token, command);
            output.WriteLine($"{string.Join(' ', command)}: {actual}");
            Assert.Equal(expected.ToString(), actual.ToString());
        }

        Assert.Equal('*', (await client.CallAsync(ReplyBound, cts.Token, "CLIENT", "HELP")).Type);
    }

    [Fact]
    public async Task ConfigSet_ReachesEveryNodeReplicasIncluded()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        try
        {
            Assert.True((await client.CallAsync(ReplyBound, cts.Token, "CONFIG", "SET", "maxmemory-samples", "7")).IsOk);
            foreach (var node in fixture.Cluster.Nodes)
            {
                Assert.EndsWith("7", (await fixture.Cluster.CliAsync(node.Port, "CONFIG", "GET", "maxmemory-samples")).Trim(), StringComparison.Ordinal);
            }
        }
        finally
        {
            await client.CallAsync(ReplyBound, CancellationToken.None, "CONFIG", "SET", "maxmemory-samples", "5");
        }
    }

    [Fact]
    public async Task Wait_EveryMasterHasOneReplica_OneAcknowledgedAndTheTimeoutKeptForMore()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var gateway = await shared.GetAsync(fixture.Cluster, output, cts.Token);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "SET", $"{{{gateway.TagOfGroup(2)}}}:wait:{_run}", "v")).IsOk);
        Assert.Equal(1, (await client.CallAsync(ReplyBound, cts.Token, "WAIT", "1", "2000")).Integer);
        var watch = Stopwatch.StartNew();
        Assert.Equal(1, (await client.CallAsync(ReplyBound, cts.Token, "WAIT", "2", "300")).Integer);
        Assert.InRange(watch.ElapsedMilliseconds, 250, 5000);
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"WAIT 2 300 answered after {watch.ElapsedMilliseconds} ms"));
    }
}
