using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using ClusterGate.Core.Frontends.ShardPorts;
using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.ShardPorts;

/// <summary>Crash tests: one at a time, so two private clusters never fail over on the 2 cores at once.</summary>
[CollectionDefinition(Name)]
public sealed class ShardPortFailoverCollection
{
    public const string Name = "shard-port-failover";
}

/// <summary>
/// The contract under failure, through a shard port, with a real master crash (DEBUG SEGFAULT) on a
/// private cluster per test: connections stay open, acknowledged writes survive, in-flight writes get
/// "outcome unknown", state and subscriptions follow the new master, and a group with no master fails
/// commands after the hold time instead of hanging.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class ShardPortFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromMilliseconds(2000);
    private static readonly TimeSpan PromotionBound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(5);

    /// <summary>Longer than the default hold (20 s): a command held across the failover still answers in it.</summary>
    private static readonly TimeSpan HeldReplyBound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Failover_TwentyWritersOnOnePort_NoDisconnectAckedWritesKeptOnlyInFlightOutcomeUnknown()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var setup = await Setup.StartAsync(output, null, cts.Token);
        var (gateway, group, port) = (setup.Gateway, setup.Group, setup.Port);
        var tag = gateway.TagOfGroup(group);
        const int clientCount = 20;

        var acks = new ConcurrentQueue<(int Client, string Key, DateTimeOffset At)>();
        var errors = new ConcurrentQueue<(int Client, string Key, string Error, DateTimeOffset At)>();
        var disconnects = new ConcurrentQueue<(int Client, string What)>();
        using var stop = new CancellationTokenSource();

        async Task WriterAsync(int c)
        {
            await using var client = await RespClient.ConnectAsync(port, cts.Token);
            for (var seq = 0; !stop.IsCancellationRequested; seq++)
            {
                var key = string.Create(CultureInfo.InvariantCulture, $"{{{tag}}}:w{c}:{seq}");
                try
                {
                    var reply = await client.CallAsync(HeldReplyBound, cts.Token, "SET", key, key);
                    if (reply.IsOk)
                    {
                        acks.Enqueue((c, key, DateTimeOffset.UtcNow));
                    }
                    else
                    {
                        errors.Enqueue((c, key, reply.ToString(), DateTimeOffset.UtcNow));
                    }
                }
                catch (Exception e) when (e is EndOfStreamException or SocketException or IOException or TimeoutException)
                {
                    disconnects.Enqueue((c, $"{e.GetType().Name}: {e.Message}"));
                    return;
                }

                await Task.Delay(10, CancellationToken.None);
            }
        }

        var writers = Enumerable.Range(0, clientCount).Select(c => Task.Run(() => WriterAsync(c), CancellationToken.None)).ToList();
        await RedisCluster.WaitUntilAsync(_ => Task.FromResult(acks.Select(a => a.Client).Distinct().Count() == clientCount), TimeSpan.FromSeconds(10), "every writer to have a first acknowledged write", ct: cts.Token);
        await Task.Delay(500, cts.Token);

        var crashedAt = DateTimeOffset.UtcNow;
        var promotion = await setup.CrashMasterAsync(cts.Token);

        // Every writer gets through again after the promotion (generous bound), then a little more steady traffic.
        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(Enumerable.Range(0, clientCount).All(c => acks.Any(a => a.Client == c && a.At > promotion.VisibleAt)) || !disconnects.IsEmpty),
            TimeSpan.FromSeconds(25),
            "every writer to have an acknowledged write after the promotion",
            () => $"{acks.Count(a => a.At > promotion.VisibleAt)} acks after the promotion, {errors.Count} errors",
            cts.Token);
        await Task.Delay(500, cts.Token);
        await stop.CancelAsync();
        await Task.WhenAll(writers).WaitAsync(HeldReplyBound + TimeSpan.FromSeconds(5), cts.Token);

        var firstAfterCrash = acks.Where(a => a.At > crashedAt).Select(a => a.At).DefaultIfEmpty(DateTimeOffset.MaxValue).Min();
        var lag = firstAfterCrash - promotion.VisibleAt;
        output.WriteLine($"acks {acks.Count}, errors {errors.Count}, disconnects {disconnects.Count}; promotion visible {promotion.AfterSegfault?.TotalMilliseconds:0} ms after the crash; first ack after the crash {(firstAfterCrash - crashedAt).TotalMilliseconds:0} ms after it, {lag.TotalMilliseconds:0} ms after the promotion was visible");
        foreach (var e in errors)
        {
            output.WriteLine($"error client {e.Client} {e.Key} at +{(e.At - crashedAt).TotalMilliseconds:0} ms: {e.Error}");
        }

        Assert.True(disconnects.IsEmpty, "clients were disconnected: " + string.Join("; ", disconnects));
        Assert.All(errors, e => Assert.StartsWith("-ERR outcome unknown", e.Error, StringComparison.Ordinal));
        Assert.All(errors.GroupBy(e => e.Client), g => Assert.True(g.Count() <= 1, $"client {g.Key} got {g.Count()} errors (only its one in-flight write may)"));
        Assert.True(lag < TimeSpan.FromSeconds(2), $"writes resumed {lag.TotalMilliseconds:0} ms after the promotion was visible");

        // Every acknowledged write is on the new master.
        var missing = new List<string>();
        await using (var master = await RespClient.ConnectAsync(promotion.Port, cts.Token))
        {
            foreach (var batch in acks.Chunk(500))
            {
                foreach (var ack in batch)
                {
                    await master.SendAsync(cts.Token, "GET", ack.Key);
                }

                foreach (var ack in batch)
                {
                    var value = await master.ReadAsync(ReplyBound, cts.Token);
                    if (value.Text != ack.Key)
                    {
                        missing.Add($"{ack.Key} (acked at {(ack.At - crashedAt).TotalMilliseconds:0} ms from the crash): {value}");
                    }
                }
            }
        }

        Assert.True(missing.Count == 0, $"{missing.Count} acknowledged writes are not on the new master: {string.Join("; ", missing.Take(20))}");
    }

    [Fact]
    public async Task Failover_FiftyPipelinedCommandsInFlight_RepliesInOrderAndSocketStaysOpen()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var setup = await Setup.StartAsync(output, null, cts.Token);
        var tag = setup.Gateway.TagOfGroup(setup.Group);
        await using var client = await RespClient.ConnectAsync(setup.Port, cts.Token);

        var expectations = new ConcurrentQueue<(bool IsSet, int Index, int SetIndex)>();
        var setOutcome = new ConcurrentDictionary<int, string>();
        var violations = new ConcurrentQueue<string>();
        var missingAfterAck = new ConcurrentQueue<int>();
        using var credits = new SemaphoreSlim(50, 50);
        using var stop = new CancellationTokenSource();
        var sent = 0;
        var read = 0;
        var unknown = 0;
        var writerDone = false;
        string Key(int i) => string.Create(CultureInfo.InvariantCulture, $"{{{tag}}}:p:{i}");

        var writer = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                await credits.WaitAsync(cts.Token);
                var isSet = i % 2 == 0;
                var setIndex = isSet ? i : Math.Max(0, i - 1 - (2 * ((i / 2) % 10)));
                expectations.Enqueue((isSet, i, setIndex));
                Interlocked.Increment(ref sent);
                await (isSet
                    ? client.SendAsync(cts.Token, "SET", Key(i), "v" + i.ToString(CultureInfo.InvariantCulture))
                    : client.SendAsync(cts.Token, "GET", Key(setIndex)));
                if (i % 50 == 0)
                {
                    await Task.Delay(5, CancellationToken.None);
                }
            }

            Volatile.Write(ref writerDone, true);
        }, CancellationToken.None);

        var reader = Task.Run(async () =>
        {
            var lastProgress = Stopwatch.GetTimestamp();
            while (!(Volatile.Read(ref writerDone) && Volatile.Read(ref read) == Volatile.Read(ref sent)))
            {
                RespReply reply;
                try
                {
                    reply = await client.ReadAsync(TimeSpan.FromMilliseconds(500), cts.Token);
                }
                catch (TimeoutException) when (Stopwatch.GetElapsedTime(lastProgress) < HeldReplyBound)
                {
                    continue;
                }

                lastProgress = Stopwatch.GetTimestamp();
                Assert.True(expectations.TryDequeue(out var expected), $"unexpected extra reply {reply}");
                Interlocked.Increment(ref read);
                if (expected.IsSet)
                {
                    if (reply.IsOk)
                    {
                        setOutcome[expected.Index] = "ok";
                    }
                    else if (reply.IsError && reply.Text!.StartsWith("ERR outcome unknown", StringComparison.Ordinal))
                    {
                        setOutcome[expected.Index] = "unknown";
                        Interlocked.Increment(ref unknown);
                    }
                    else
                    {
                        violations.Enqueue($"SET #{expected.Index}: {reply}");
                        setOutcome[expected.Index] = "error";
                    }
                }
                else
                {
                    var value = "v" + expected.SetIndex.ToString(CultureInfo.InvariantCulture);
                    var outcome = setOutcome.GetValueOrDefault(expected.SetIndex, "(no reply yet: order broken)");
                    var fine = outcome switch
                    {
                        "ok" => reply.Text == value,
                        "unknown" => reply.Text == value || reply.IsNull,
                        _ => false,
                    };
                    if (!fine && outcome == "ok" && reply.IsNull)
                    {
                        // Redis replicates asynchronously: a write the old master acknowledged just before it crashed may
                        // not have reached the replica that took over (the GET, read-only, was sent again there). Checked
                        // below to be one of the last writes before the crash.
                        missingAfterAck.Enqueue(expected.SetIndex);
                    }
                    else if (!fine)
                    {
                        violations.Enqueue($"GET #{expected.Index} of SET #{expected.SetIndex} ({outcome}): {reply}");
                    }
                }

                credits.Release();
            }
        }, CancellationToken.None);

        await RedisCluster.WaitUntilAsync(_ => Task.FromResult(Volatile.Read(ref read) > 2000), TimeSpan.FromSeconds(20), "2000 pipelined replies before the crash", ct: cts.Token);
        var before = Volatile.Read(ref read);
        var sentAtCrash = Volatile.Read(ref sent);
        var promotion = await setup.CrashMasterAsync(cts.Token);
        await RedisCluster.WaitUntilAsync(_ => Task.FromResult(Volatile.Read(ref read) > before + 2000 || reader.IsCompleted), TimeSpan.FromSeconds(25), "2000 more replies after the promotion", ct: cts.Token);
        await stop.CancelAsync();
        await Task.WhenAll(writer, reader).WaitAsync(HeldReplyBound + TimeSpan.FromSeconds(5), cts.Token);

        output.WriteLine($"sent {sent}, read {read}, outcome unknown {unknown}, violations {violations.Count}; promotion after {promotion.AfterSegfault?.TotalMilliseconds:0} ms");
        Assert.True(violations.IsEmpty, string.Join("\n", violations.Take(30)));
        output.WriteLine($"acknowledged writes the new master did not have: {string.Join(", ", missingAfterAck)} (sent {sentAtCrash} when the crash began)");
        Assert.All(missingAfterAck, index => Assert.InRange(index, sentAtCrash - 200, sentAtCrash + 200));
        Assert.Equal(sent, read);
        Assert.True(unknown <= 50, $"{unknown} outcome-unknown errors: more than were in flight");
        Assert.Equal("+PONG", (await client.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
    }

    [Fact]
    public async Task Failover_Subscriber_MessagesKeepArrivingOnTheSameSocket()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var setup = await Setup.StartAsync(output, null, cts.Token);
        var gateway = setup.Gateway;
        const string channel = "shardports-news";
        await using var subscriber = await RespClient.ConnectAsync(setup.Port, cts.Token);
        var confirmation = await subscriber.CallAsync(ReplyBound, cts.Token, "SUBSCRIBE", channel);
        Assert.Equal("*[$subscribe, $shardports-news, 1]", confirmation.ToString());

        // Published on another group's master: the cluster bus carries it to every node.
        var otherGroup = gateway.Manager.Bindings.First(b => b.GroupId != setup.Group).GroupId;
        await using var publisher = await RespClient.ConnectAsync(gateway.MasterPortOfGroup(otherGroup), cts.Token);
        // In a cluster PUBLISH counts only the receivers on the node it ran on: 0 here.
        Assert.Equal(':', (await publisher.CallAsync(ReplyBound, cts.Token, "PUBLISH", channel, "before")).Type);
        Assert.Equal("*[$message, $shardports-news, $before]", (await subscriber.ReadAsync(ReplyBound, cts.Token)).ToString());

        var promotion = await setup.CrashMasterAsync(cts.Token);
        var sw = Stopwatch.StartNew();
        var received = new List<string>();
        while (!received.Exists(m => m.StartsWith("after", StringComparison.Ordinal)))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(15), $"no message on the subscriber within 15 s of the promotion; got: {string.Join(", ", received)}");
            await publisher.CallAsync(ReplyBound, cts.Token, "PUBLISH", channel, "after-" + sw.ElapsedMilliseconds.ToString(CultureInfo.InvariantCulture));
            try
            {
                var message = await subscriber.ReadAsync(TimeSpan.FromMilliseconds(200), cts.Token);
                Assert.True(message.Items is { Count: 3 } && message.Items[0].Text == "message", $"subscriber got {message}");
                received.Add(message.Items[2].Text!);
            }
            catch (TimeoutException)
            {
                // Not resubscribed yet.
            }
        }

        output.WriteLine($"first message {sw.ElapsedMilliseconds} ms after the promotion was visible ({promotion.AfterSegfault?.TotalMilliseconds:0} ms after the crash)");

        // Still in subscribed mode on the same socket: PING answers the subscriber form.
        await subscriber.SendAsync(cts.Token, "PING");
        RespReply pong;
        do
        {
            pong = await subscriber.ReadAsync(ReplyBound, cts.Token);
        }
        while (pong.Items is { Count: 3 } && pong.Items[0].Text == "message");
        Assert.Equal("*[$pong, $]", pong.ToString());
    }

    [Fact]
    public async Task Failover_SelectSetNameHello3_StateReplayedOnTheSameSocket()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var setup = await Setup.StartAsync(output, null, cts.Token);
        var tag = setup.Gateway.TagOfGroup(setup.Group);
        await using var client = await RespClient.ConnectAsync(setup.Port, cts.Token);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "SELECT", "0")).IsOk);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "CLIENT", "SETNAME", "drill")).IsOk);
        Assert.Equal('%', (await client.CallAsync(ReplyBound, cts.Token, "HELLO", "3")).Type);
        var info = await client.CallAsync(ReplyBound, cts.Token, "CLIENT", "INFO");
        output.WriteLine("before: " + info);
        Assert.Contains("name=drill", Fields(info));
        Assert.Contains("resp=3", Fields(info));

        await setup.CrashMasterAsync(cts.Token);

        var name = await client.CallAsync(HeldReplyBound, cts.Token, "CLIENT", "GETNAME");
        Assert.Equal("$drill", name.ToString());
        info = await client.CallAsync(ReplyBound, cts.Token, "CLIENT", "INFO");
        output.WriteLine("after: " + info);
        Assert.Equal('=', info.Type);
        Assert.Contains("name=drill", Fields(info));
        Assert.Contains("db=0", Fields(info));
        Assert.Contains("resp=3", Fields(info));
        Assert.Equal("%[]", (await client.CallAsync(ReplyBound, cts.Token, "HGETALL", $"{{{tag}}}:nohash")).ToString());
        Assert.Equal('_', (await client.CallAsync(ReplyBound, cts.Token, "GET", $"{{{tag}}}:nokey")).Type);
    }

    [Fact]
    public async Task Failover_InsideMulti_ExecGetsErrorAndConnectionKeepsWorking()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var setup = await Setup.StartAsync(output, null, cts.Token);
        var tag = setup.Gateway.TagOfGroup(setup.Group);
        await using var client = await RespClient.ConnectAsync(setup.Port, cts.Token);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "MULTI")).IsOk);
        Assert.Equal("+QUEUED", (await client.CallAsync(ReplyBound, cts.Token, "SET", $"{{{tag}}}:tx", "1")).ToString());

        await setup.CrashMasterAsync(cts.Token);

        var exec = await client.CallAsync(HeldReplyBound, cts.Token, "EXEC");
        output.WriteLine("EXEC after the failover: " + exec);
        Assert.True(exec.IsError && (exec.Text!.StartsWith("EXECABORT", StringComparison.Ordinal) || exec.Text.StartsWith("ERR", StringComparison.Ordinal)), $"EXEC answered {exec}");
        Assert.True((await client.CallAsync(HeldReplyBound, cts.Token, "SET", $"{{{tag}}}:after", "2")).IsOk);
        Assert.Equal("2", (await client.CallAsync(ReplyBound, cts.Token, "GET", $"{{{tag}}}:after")).Text);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "GET", $"{{{tag}}}:tx")).IsNull, "the aborted transaction's SET ran");

        // A new transaction works on the new master.
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "MULTI")).IsOk);
        Assert.Equal("+QUEUED", (await client.CallAsync(ReplyBound, cts.Token, "INCR", $"{{{tag}}}:n")).ToString());
        Assert.Equal("*[1]", (await client.CallAsync(ReplyBound, cts.Token, "EXEC")).ToString());
    }

    [Fact]
    public async Task Hold_MasterAndReplicaDown_ClusterDownAfterHoldTimeAndSocketStaysOpen()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var hold = TimeSpan.FromSeconds(1);
        await using var setup = await Setup.StartAsync(output, o => o.HoldTimeout = hold, cts.Token);
        var (gateway, cluster) = (setup.Gateway, setup.Gateway.Cluster);
        var tag = gateway.TagOfGroup(setup.Group);
        await using var client = await RespClient.ConnectAsync(setup.Port, cts.Token);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "SET", $"{{{tag}}}:k", "v")).IsOk);

        var master = gateway.MasterPortOfGroup(setup.Group);
        var masterId = cluster.Node(master).Id;
        var replicas = (await cluster.ClusterNodeLinesAsync(master, cts.Token)).Where(l => l.IsReplica && l.MasterId == masterId).Select(l => l.Port).ToList();
        Assert.NotEmpty(replicas);
        foreach (var replica in replicas)
        {
            await cluster.SegfaultAsync(replica, cts.Token);
        }

        await cluster.SegfaultAsync(master, cts.Token);
        output.WriteLine($"killed master {master} and replicas {string.Join(", ", replicas)}");

        // Let the gateway notice and its own first hold run out, then time a command's hold.
        await Task.Delay(hold * 2.5, cts.Token);
        foreach (var attempt in new[] { "GET", "PING" })
        {
            var sw = Stopwatch.StartNew();
            var reply = attempt == "GET"
                ? await client.CallAsync(ReplyBound, cts.Token, "GET", $"{{{tag}}}:k")
                : await client.CallAsync(ReplyBound, cts.Token, "PING");
            output.WriteLine($"{attempt} answered after {sw.ElapsedMilliseconds} ms: {reply}");
            Assert.True(reply.IsError && reply.Text!.StartsWith("CLUSTERDOWN", StringComparison.Ordinal), $"{attempt} answered {reply}");
            Assert.InRange(sw.Elapsed, hold * 0.7, hold * 3);
        }

        await using var fresh = await RespClient.ConnectAsync(setup.Port, cts.Token);
        var started = Stopwatch.StartNew();
        var freshReply = await fresh.CallAsync(ReplyBound, cts.Token, "GET", $"{{{tag}}}:k");
        output.WriteLine($"new connection answered after {started.ElapsedMilliseconds} ms: {freshReply}");
        Assert.True(freshReply.IsError && freshReply.Text!.StartsWith("CLUSTERDOWN", StringComparison.Ordinal), $"new connection got {freshReply}");
        Assert.InRange(started.Elapsed, hold * 0.7, hold * 3);
        Assert.False(await client.WaitForCloseAsync(TimeSpan.FromMilliseconds(200), cts.Token), "the gateway closed the held client's socket");
    }

    private static string[] Fields(RespReply clientInfo) =>
        (clientInfo.Type == '=' ? clientInfo.Text![4..] : clientInfo.Text!).Split([' ', '\r', '\n'], StringSplitOptions.RemoveEmptyEntries);

    /// <summary>A private cluster, a gateway in front of it, and the group that owns slot 0 with its shard port.</summary>
    private sealed class Setup : IAsyncDisposable
    {
        private readonly RedisCluster _cluster;
        private readonly TestOutputLoggerProvider _log;
        private readonly ITestOutputHelper _output;

        private Setup(RedisCluster cluster, TestOutputLoggerProvider log, ShardGateway gateway, ITestOutputHelper output)
        {
            _cluster = cluster;
            _log = log;
            _output = output;
            Gateway = gateway;
            Group = gateway.GroupOfSlot(0);
            Port = gateway.PortOfGroup(Group);
        }

        public ShardGateway Gateway { get; }

        public int Group { get; }

        public int Port { get; }

        public static async Task<Setup> StartAsync(ITestOutputHelper output, Action<ShardPortOptions>? configure, CancellationToken ct)
        {
            var cluster = await RedisCluster.StartAsync(new RedisClusterOptions { NodeTimeout = NodeTimeout }, ct);
            var log = new TestOutputLoggerProvider(output);
            try
            {
                var gateway = await ShardGateway.StartAsync(cluster, log, configure, ct);
                return new Setup(cluster, log, gateway, output);
            }
            catch
            {
                log.Dispose();
                await cluster.DisposeAsync();
                throw;
            }
        }

        /// <summary>DEBUG SEGFAULT on the group's master; returns once a replica is promoted and the gateway confirmed it.</summary>
        public async Task<PromotionResult> CrashMasterAsync(CancellationToken ct)
        {
            var master = Gateway.MasterPortOfGroup(Group);
            _log.WriteLine($"TEST: DEBUG SEGFAULT on master 127.0.0.1:{master} of group {Group}");
            await _cluster.SegfaultAsync(master, ct);
            var promotion = await _cluster.WaitForPromotionAsync(master, PromotionBound, ct);
            _log.WriteLine($"TEST: 127.0.0.1:{promotion.Port} promoted, visible {promotion.AfterSegfault?.TotalMilliseconds:0} ms after the crash");
            await Gateway.WaitForConfirmedMasterAsync(Group, promotion.Port, TimeSpan.FromSeconds(10), ct);
            _output.WriteLine($"gateway confirmed the new master {(DateTimeOffset.UtcNow - promotion.VisibleAt).TotalMilliseconds:0} ms after the promotion was visible");
            return promotion;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await Gateway.DisposeAsync();
            }
            finally
            {
                _log.Dispose();
                await _cluster.DisposeAsync();
            }
        }
    }
}
