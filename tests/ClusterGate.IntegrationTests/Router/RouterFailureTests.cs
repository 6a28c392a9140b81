using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using ClusterGate.Core.Frontends.Router;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>
/// The contract under failure through the router port, on a private cluster per test: resharding and
/// failover stay invisible to clients (no MOVED/ASK/TRYAGAIN, no disconnects, acknowledged writes kept,
/// only in-flight writes "outcome unknown"), and a group with no master fails after the hold time.
/// Runs in the shard-port crash collection so two private clusters never fail over on the 2 cores at once.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class RouterFailureTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(240);
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromMilliseconds(2000);
    private static readonly TimeSpan PromotionBound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(10);

    /// <summary>Longer than the default hold (20 s): a command held across a failover still answers within it.</summary>
    private static readonly TimeSpan HeldReplyBound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Reshard_FiveHundredSlotsMovedWhileTenClientsWrite_NoRedirectSeenAndEveryAckedKeyReadable()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var setup = await Setup.StartAsync(output, null, null, cts.Token);
        var (gateway, cluster) = (setup.Gateway, setup.Cluster);
        var source = gateway.MasterPortOfSlot(0);
        var sourceGroup = gateway.GroupOfSlot(0);
        var target = gateway.MasterPorts.First(p => p != source);
        var sourceSlots = Enumerable.Range(0, RedisCluster.SlotCount).Where(s => gateway.GroupOfSlot(s) == sourceGroup).ToArray();

        // redis-cli takes the source's lowest slots first: aim half the writes at them.
        var hot = sourceSlots.Take(600).ToArray();
        const int clientCount = 10;
        var acks = new ConcurrentQueue<(string Key, string Value)>();
        var errors = new ConcurrentQueue<string>();
        var disconnects = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource();

        async Task WriterAsync(int c)
        {
            await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
            for (var seq = 0; !stop.IsCancellationRequested; seq++)
            {
                var slot = seq % 2 == 0 ? hot[((seq * 13) + c) % hot.Length] : ((seq * 7919) + (c * 104729)) % RedisCluster.SlotCount;
                var tag = SlotTags.Of(slot);
                var key = string.Create(CultureInfo.InvariantCulture, $"rs:{{{tag}}}:w{c}:{seq}");
                try
                {
                    if (seq % 7 == 3)
                    {
                        // Two keys of one slot: TRYAGAIN while the slot's keys are split between the nodes.
                        var reply = await client.CallAsync(HeldReplyBound, cts.Token, "MSET", key + "a", key + "a", key + "b", key + "b");
                        if (reply.IsOk)
                        {
                            acks.Enqueue((key + "a", key + "a"));
                            acks.Enqueue((key + "b", key + "b"));
                        }
                        else
                        {
                            errors.Enqueue($"client {c} MSET {key}a/b: {reply}");
                        }
                    }
                    else
                    {
                        var reply = await client.CallAsync(HeldReplyBound, cts.Token, "SET", key, key);
                        if (reply.IsOk)
                        {
                            acks.Enqueue((key, key));
                        }
                        else
                        {
                            errors.Enqueue($"client {c} SET {key}: {reply}");
                        }
                    }

                    if (seq % 5 == 4 && acks.TryPeek(out var some))
                    {
                        var read = await client.CallAsync(HeldReplyBound, cts.Token, "GET", some.Key);
                        if (read.Text != some.Value)
                        {
                            errors.Enqueue($"client {c} GET {some.Key}: {read}");
                        }
                    }
                }
                catch (Exception e) when (e is EndOfStreamException or SocketException or IOException or TimeoutException)
                {
                    disconnects.Enqueue($"client {c}: {e.GetType().Name}: {e.Message}");
                    return;
                }
            }
        }

        var writers = Enumerable.Range(0, clientCount).Select(c => Task.Run(() => WriterAsync(c), CancellationToken.None)).ToList();
        await RedisCluster.WaitUntilAsync(_ => Task.FromResult(acks.Count > 3000 || !errors.IsEmpty || !disconnects.IsEmpty), TimeSpan.FromSeconds(30), "3000 acknowledged writes before the reshard", ct: cts.Token);

        var (exitCode, stdout, stderr, elapsed) = await ProcessRunner.RunAsync(
            "redis-cli",
            ["--cluster", "reshard", $"127.0.0.1:{source}", "--cluster-from", cluster.Node(source).Id, "--cluster-to", cluster.Node(target).Id, "--cluster-slots", "500", "--cluster-yes"],
            null,
            TimeSpan.FromSeconds(150),
            cts.Token);
        var acksDuring = acks.Count;
        output.WriteLine($"reshard 500 slots {source} -> {target}: exit {exitCode} in {elapsed.TotalSeconds:0.0} s, {acksDuring} acks so far\nstderr: {stderr}\nstdout tail: {(stdout.Length > 1500 ? stdout[^1500..] : stdout)}");
        Assert.Equal(0, exitCode);

        await Task.Delay(1000, cts.Token);
        await stop.CancelAsync();
        await Task.WhenAll(writers).WaitAsync(HeldReplyBound + TimeSpan.FromSeconds(5), cts.Token);
        output.WriteLine($"acks {acks.Count}, errors {errors.Count}, disconnects {disconnects.Count}");
        foreach (var e in errors.Take(30))
        {
            output.WriteLine("error: " + e);
        }

        // The slots really moved, and the gateway follows them.
        Assert.Equal(target, await cluster.MasterPortForSlotAsync(hot[0], cts.Token));
        await RedisCluster.WaitUntilAsync(_ => Task.FromResult(gateway.Monitor.Current.GroupForSlot(hot[0])?.RoutableMaster?.Connect.Port == target), TimeSpan.FromSeconds(10), "the gateway to see the moved slots", ct: cts.Token);

        Assert.True(disconnects.IsEmpty, "clients were disconnected: " + string.Join("; ", disconnects));
        Assert.DoesNotContain(errors, e => e.Contains("MOVED", StringComparison.Ordinal) || e.Contains("ASK", StringComparison.Ordinal) || e.Contains("TRYAGAIN", StringComparison.Ordinal));
        Assert.True(errors.IsEmpty, $"{errors.Count} errors: {string.Join("; ", errors.Take(10))}");

        // Every acknowledged key: through the router, and on the master that now owns its slot.
        await using var reader = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        var list = acks.ToList();
        var viaRouter = await RouterPipeline.RunAsync(reader, [.. list.Select(a => new[] { "GET", a.Key })], ReplyBound, cts.Token);
        var wrong = Enumerable.Range(0, list.Count).Where(i => viaRouter[i].Text != list[i].Value).ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} of {list.Count} acknowledged keys wrong through the router: {string.Join("; ", wrong.Take(10).Select(i => $"{list[i].Key} = {viaRouter[i]}"))}");
        var missing = 0;
        foreach (var group in list.GroupBy(a => gateway.MasterPortOfSlot(HashSlots.Of(a.Key))))
        {
            await using var master = await RespClient.ConnectAsync(group.Key, cts.Token);
            var replies = await RouterPipeline.RunAsync(master, [.. group.Select(a => new[] { "GET", a.Key })], ReplyBound, cts.Token);
            missing += replies.Zip(group).Count(p => p.First.Text != p.Second.Value);
        }

        Assert.Equal(0, missing);
    }

    [Fact]
    public async Task Failover_TwentyWritersAcrossGroups_NoDisconnectAckedWritesKeptOnlyCrashedGroupInFlightOutcomeUnknown()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var setup = await Setup.StartAsync(output, null, null, cts.Token);
        var (gateway, cluster) = (setup.Gateway, setup.Cluster);
        var crashedGroup = gateway.GroupOfSlot(0);
        var snapshot = gateway.Monitor.Current;
        var groupIds = snapshot.Groups.Select(g => g.Id).Order().ToArray();
        var slotsOfGroup = groupIds.ToDictionary(g => g, g => Enumerable.Range(0, RedisCluster.SlotCount).Where(s => snapshot.GroupForSlot(s)?.Id == g).ToArray());
        const int clientCount = 20;

        var acks = new ConcurrentQueue<(int Client, int Group, string Key, DateTimeOffset At)>();
        var errors = new ConcurrentQueue<(int Client, int Group, string Key, string Error, DateTimeOffset At, TimeSpan Took)>();
        var disconnects = new ConcurrentQueue<(int Client, string What)>();
        using var stop = new CancellationTokenSource();

        async Task WriterAsync(int c)
        {
            await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
            for (var seq = 0; !stop.IsCancellationRequested; seq++)
            {
                var group = groupIds[(seq + c) % groupIds.Length];
                var slots = slotsOfGroup[group];
                var key = string.Create(CultureInfo.InvariantCulture, $"fo:{{{SlotTags.Of(slots[((seq * 31) + c) % slots.Length])}}}:w{c}:{seq}");
                var sw = Stopwatch.StartNew();
                try
                {
                    var reply = await client.CallAsync(HeldReplyBound, cts.Token, "SET", key, key);
                    if (reply.IsOk)
                    {
                        acks.Enqueue((c, group, key, DateTimeOffset.UtcNow));
                    }
                    else
                    {
                        errors.Enqueue((c, group, key, reply.ToString(), DateTimeOffset.UtcNow, sw.Elapsed));
                    }
                }
                catch (Exception e) when (e is EndOfStreamException or SocketException or IOException or TimeoutException)
                {
                    disconnects.Enqueue((c, $"{e.GetType().Name}: {e.Message}"));
                    return;
                }

                await Task.Delay(5, CancellationToken.None);
            }
        }

        var writers = Enumerable.Range(0, clientCount).Select(c => Task.Run(() => WriterAsync(c), CancellationToken.None)).ToList();
        await RedisCluster.WaitUntilAsync(_ => Task.FromResult(acks.Select(a => a.Client).Distinct().Count() == clientCount), TimeSpan.FromSeconds(10), "every writer to have a first acknowledged write", ct: cts.Token);
        await Task.Delay(500, cts.Token);

        // The failover's last phase (traffic resumed) is reported when a held command is answered by the new master.
        var reached = new ConcurrentQueue<int>();
        gateway.Frontend.Stats.MasterReached += reached.Enqueue;

        var master = gateway.MasterPortOfGroup(crashedGroup);

        // Redis replicates asynchronously: only what a replica acknowledged survives its master for sure. Every write
        // acknowledged before this point is such; the ones acknowledged between it and the crash may be lost.
        var replicatedAt = DateTimeOffset.UtcNow;
        await cluster.WaitForReplicasToCatchUpAsync(master, TimeSpan.FromSeconds(5), cts.Token);
        var crashedAt = DateTimeOffset.UtcNow;
        setup.Log.WriteLine($"TEST: DEBUG SEGFAULT on master 127.0.0.1:{master} of group {crashedGroup}");
        await cluster.SegfaultAsync(master, cts.Token);
        var promotion = await cluster.WaitForPromotionAsync(master, PromotionBound, cts.Token);
        setup.Log.WriteLine($"TEST: 127.0.0.1:{promotion.Port} promoted, visible {promotion.AfterSegfault?.TotalMilliseconds:0} ms after the crash");
        await gateway.WaitForConfirmedMasterAsync(crashedGroup, promotion.Port, TimeSpan.FromSeconds(10), cts.Token);

        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(Enumerable.Range(0, clientCount).All(c => acks.Any(a => a.Client == c && a.Group == crashedGroup && a.At > promotion.VisibleAt)) || !disconnects.IsEmpty),
            TimeSpan.FromSeconds(25),
            "every writer to have an acknowledged write to the crashed group after the promotion",
            () => $"{acks.Count(a => a.At > promotion.VisibleAt)} acks after the promotion, {errors.Count} errors",
            cts.Token);
        await Task.Delay(500, cts.Token);
        await stop.CancelAsync();
        await Task.WhenAll(writers).WaitAsync(HeldReplyBound + TimeSpan.FromSeconds(5), cts.Token);

        var firstAfterCrash = acks.Where(a => a.Group == crashedGroup && a.At > crashedAt).Select(a => a.At).DefaultIfEmpty(DateTimeOffset.MaxValue).Min();
        var lag = firstAfterCrash - promotion.VisibleAt;
        var otherGroupsDuring = acks.Count(a => a.Group != crashedGroup && a.At > crashedAt && a.At < promotion.VisibleAt);
        output.WriteLine($"acks {acks.Count}, errors {errors.Count}, disconnects {disconnects.Count}; promotion visible {promotion.AfterSegfault?.TotalMilliseconds:0} ms after the crash; "
            + $"first ack to the crashed group {(firstAfterCrash - crashedAt).TotalMilliseconds:0} ms after the crash = {lag.TotalMilliseconds:0} ms after the promotion was visible; "
            + $"{otherGroupsDuring} acks to the other groups between crash and promotion");
        foreach (var e in errors)
        {
            output.WriteLine($"error client {e.Client} group {e.Group} {e.Key} at +{(e.At - crashedAt).TotalMilliseconds:0} ms after {e.Took.TotalMilliseconds:0} ms: {e.Error}");
        }

        Assert.True(disconnects.IsEmpty, "clients were disconnected: " + string.Join("; ", disconnects));
        Assert.All(errors, e => Assert.Equal(crashedGroup, e.Group));
        Assert.All(errors, e => Assert.StartsWith("-ERR outcome unknown", e.Error, StringComparison.Ordinal));
        Assert.All(errors.GroupBy(e => e.Client), g => Assert.True(g.Count() <= 1, $"client {g.Key} got {g.Count()} errors (only its one in-flight write may)"));
        Assert.True(otherGroupsDuring > 0, "no write to the other groups succeeded between the crash and the promotion");
        Assert.True(lag < TimeSpan.FromSeconds(3), $"writes to the crashed group resumed {lag.TotalMilliseconds:0} ms after the promotion was visible");
        // (Other groups' commands may be held too: every master answers CLUSTERDOWN while the cluster state is fail.)
        output.WriteLine($"held commands answered by their master, by group: {string.Join(", ", reached.GroupBy(g => g).Select(g => $"{g.Key}: {g.Count()}"))}");
        Assert.Contains(crashedGroup, reached);

        // Every acknowledged write is on the master that now owns its slot.
        var missing = new List<string>();
        foreach (var group in acks.GroupBy(a => gateway.MasterPortOfSlot(HashSlots.Of(a.Key))))
        {
            await using var m = await RespClient.ConnectAsync(group.Key, cts.Token);
            var list = group.ToList();
            var replies = await RouterPipeline.RunAsync(m, [.. list.Select(a => new[] { "GET", a.Key })], ReplyBound, cts.Token);
            missing.AddRange(Enumerable.Range(0, list.Count)
                .Where(i => replies[i].Text != list[i].Key && !(list[i].Group == crashedGroup && list[i].At > replicatedAt && list[i].At < crashedAt))
                .Select(i => $"{list[i].Key} (group {list[i].Group}, acked at {(list[i].At - crashedAt).TotalMilliseconds:0} ms from the crash): {replies[i]}"));
        }

        if (missing.Count > 0)
        {
            foreach (var node in cluster.Nodes.Where(n => n.Port == master || n.Port == promotion.Port))
            {
                output.WriteLine($"127.0.0.1:{node.Port}:\n{node.Diagnostics()}");
            }
        }

        Assert.True(missing.Count == 0, $"{missing.Count} acknowledged writes are missing: {string.Join("; ", missing.Take(20))}");
    }

    [Fact]
    public async Task Hold_MasterAndReplicaOfOneGroupDown_ClusterDownAfterHoldTimeOtherSlotsKeepWorking()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var hold = TimeSpan.FromSeconds(1);

        // Without full coverage the surviving masters keep serving their slots while one group has none.
        await using var setup = await Setup.StartAsync(output, ["cluster-require-full-coverage no"], o => o.HoldTimeout = hold, cts.Token);
        var (gateway, cluster) = (setup.Gateway, setup.Cluster);
        var deadGroup = gateway.GroupOfSlot(0);
        var deadTag = gateway.TagOfGroup(deadGroup);
        var liveTags = gateway.Monitor.Current.Groups.Where(g => g.Id != deadGroup).Select(g => gateway.TagOfGroup(g.Id)).ToList();
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        Assert.True((await client.CallAsync(ReplyBound, cts.Token, "SET", $"{{{deadTag}}}:k", "v")).IsOk);

        // A second client keeps using the live groups the whole time.
        var liveErrors = new ConcurrentQueue<string>();
        var liveSlow = new ConcurrentQueue<string>();
        var liveOps = 0;
        using var stop = new CancellationTokenSource();
        var prober = Task.Run(async () =>
        {
            await using var live = await RespClient.ConnectAsync(gateway.Port, cts.Token);
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var key = $"{{{liveTags[i % liveTags.Count]}}}:live:{i}";
                var sw = Stopwatch.StartNew();
                var set = await live.CallAsync(ReplyBound, cts.Token, "SET", key, "x");
                var get = await live.CallAsync(ReplyBound, cts.Token, "GET", key);
                if (!set.IsOk || get.Text != "x")
                {
                    liveErrors.Enqueue($"{key}: {set} / {get}");
                }

                // Below the hold time (a command stuck behind the held group takes at least that), above a
                // scheduling hiccup of this 2-core machine while two Redis processes crash.
                if (sw.Elapsed > hold * 0.8)
                {
                    liveSlow.Enqueue($"{key}: {sw.ElapsedMilliseconds} ms");
                }

                Interlocked.Increment(ref liveOps);
                await Task.Delay(10, CancellationToken.None);
            }
        }, CancellationToken.None);

        var master = gateway.MasterPortOfGroup(deadGroup);
        var masterId = cluster.Node(master).Id;
        var replicas = (await cluster.ClusterNodeLinesAsync(master, cts.Token)).Where(l => l.IsReplica && l.MasterId == masterId).Select(l => l.Port).ToList();
        Assert.NotEmpty(replicas);
        foreach (var replica in replicas)
        {
            await cluster.SegfaultAsync(replica, cts.Token);
        }

        await cluster.SegfaultAsync(master, cts.Token);
        setup.Log.WriteLine($"TEST: killed master {master} and replicas {string.Join(", ", replicas)}");

        // Right away (the gateway may not know yet) and later (the group is known to have no master).
        foreach (var when in new[] { TimeSpan.Zero, hold * 2.5, NodeTimeout * 2 })
        {
            await Task.Delay(when, cts.Token);
            var sw = Stopwatch.StartNew();
            var reply = await client.CallAsync(ReplyBound, cts.Token, "GET", $"{{{deadTag}}}:k");
            output.WriteLine($"GET of the dead group {when.TotalMilliseconds:0} ms after the kill answered after {sw.ElapsedMilliseconds} ms: {reply}");
            Assert.True(reply.IsError && reply.Text!.StartsWith("CLUSTERDOWN", StringComparison.Ordinal), $"GET answered {reply}");
            Assert.InRange(sw.Elapsed, hold * 0.7, hold * 3);

            // The same connection still serves the other groups.
            sw.Restart();
            Assert.True((await client.CallAsync(ReplyBound, cts.Token, "SET", $"{{{liveTags[0]}}}:same", "y")).IsOk);
            // The prober's bound: below the hold time (a SET stuck behind the held group takes at least that).
            Assert.True(sw.Elapsed < hold * 0.8, $"a live group's SET after the hold took {sw.ElapsedMilliseconds} ms");
        }

        // A split command touching the dead group fails after the hold; its live part ran.
        var mixed = await client.CallAsync(ReplyBound, cts.Token, "MGET", $"{{{liveTags[0]}}}:same", $"{{{deadTag}}}:k");
        output.WriteLine("MGET live+dead: " + mixed);
        Assert.True(mixed.IsError && mixed.Text!.Contains("CLUSTERDOWN", StringComparison.Ordinal), $"MGET answered {mixed}");

        await stop.CancelAsync();
        await prober.WaitAsync(TimeSpan.FromSeconds(15), cts.Token);
        output.WriteLine($"live prober: {liveOps} SET+GET rounds, {liveErrors.Count} errors, {liveSlow.Count} slower than {hold.TotalMilliseconds * 0.8:0} ms");
        Assert.True(liveErrors.IsEmpty, "the live groups failed: " + string.Join("; ", liveErrors.Take(10)));
        Assert.True(liveSlow.IsEmpty, "the live groups were slow: " + string.Join("; ", liveSlow.Take(10)));
        Assert.False(await client.WaitForCloseAsync(TimeSpan.FromMilliseconds(200), cts.Token), "the gateway closed the held client's socket");
    }

    [Fact]
    public async Task Hold_ManyCommandsForGroupWithNoMaster_EveryOneAnsweredClusterDownAfterHoldTime()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var hold = TimeSpan.FromSeconds(1);
        await using var setup = await Setup.StartAsync(output, ["cluster-require-full-coverage no"], o => o.HoldTimeout = hold, cts.Token);
        var (gateway, cluster) = (setup.Gateway, setup.Cluster);
        var deadGroup = gateway.GroupOfSlot(0);
        var deadSlots = Enumerable.Range(0, RedisCluster.SlotCount).Where(s => gateway.GroupOfSlot(s) == deadGroup).ToArray();
        var master = gateway.MasterPortOfGroup(deadGroup);
        var masterId = cluster.Node(master).Id;
        foreach (var replica in (await cluster.ClusterNodeLinesAsync(master, cts.Token)).Where(l => l.IsReplica && l.MasterId == masterId).Select(l => l.Port).ToList())
        {
            await cluster.SegfaultAsync(replica, cts.Token);
        }

        await cluster.SegfaultAsync(master, cts.Token);
        await RedisCluster.WaitUntilAsync(_ => Task.FromResult(gateway.Monitor.Current.GroupById(deadGroup)?.RoutableMaster is null), TimeSpan.FromSeconds(10), "the gateway to see the group without a master", ct: cts.Token);

        // 5 clients x 40 commands, sent 25 ms apart so their hold times end at many points of the refresh cycle.
        const int clientCount = 5;
        const int perClient = 40;
        var clients = new List<RespClient>();
        try
        {
            for (var c = 0; c < clientCount; c++)
            {
                clients.Add(await RespClient.ConnectAsync(gateway.Port, cts.Token));
            }

            var sw = Stopwatch.StartNew();
            for (var i = 0; i < perClient; i++)
            {
                for (var c = 0; c < clientCount; c++)
                {
                    await clients[c].SendAsync(cts.Token, "GET", $"h:{{{SlotTags.Of(deadSlots[(i * clientCount) + c])}}}");
                }

                await Task.Delay(25, cts.Token);
            }

            var answered = 0;
            var clusterDown = 0;
            var other = new List<string>();
            var lost = 0;
            for (var c = 0; c < clientCount; c++)
            {
                for (var i = 0; i < perClient; i++)
                {
                    RespReply reply;
                    try
                    {
                        reply = await clients[c].ReadAsync(hold * 4, cts.Token);
                    }
                    catch (TimeoutException)
                    {
                        lost += perClient - i;
                        break;
                    }

                    answered++;
                    if (reply.IsError && reply.Text!.StartsWith("CLUSTERDOWN", StringComparison.Ordinal))
                    {
                        clusterDown++;
                    }
                    else
                    {
                        other.Add(reply.ToString());
                    }
                }
            }

            output.WriteLine($"{clientCount * perClient} commands for a group with no master: {answered} answered ({clusterDown} CLUSTERDOWN) within {sw.ElapsedMilliseconds} ms, {lost} never answered; other replies: {string.Join("; ", other.Take(5))}");
            Assert.True(lost == 0, $"{lost} of {clientCount * perClient} replies never arrived: held commands were dropped without a reply, and a dropped reply also blocks every later reply of its client");
            Assert.Equal(clientCount * perClient, clusterDown);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Scan_MasterOfTheScannedGroupCrashesMidScan_ScanGoesOnAtThePromotedReplicaAndFindsEveryKey()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var setup = await Setup.StartAsync(output, null, null, cts.Token);
        var (gateway, cluster) = (setup.Gateway, setup.Cluster);
        await using var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
        var keys = Enumerable.Range(0, 3000).Select(i => string.Create(CultureInfo.InvariantCulture, $"scanfo:{i}")).ToList();
        foreach (var chunk in keys.Chunk(100))
        {
            var set = await client.CallAsync(ReplyBound, cts.Token, ["MSET", .. chunk.SelectMany(k => new[] { k, k })]);
            Assert.True(set.IsOk, $"MSET answered {set}");
        }

        var crashedGroup = gateway.GroupOfSlot(0);
        var master = gateway.MasterPortOfGroup(crashedGroup);

        // Every key is on the replica before its master dies. (WAIT from a connection of its own would not do: it waits
        // for that connection's writes only, and it made none.)
        await cluster.WaitForReplicasToCatchUpAsync(master, TimeSpan.FromSeconds(5), cts.Token);

        var seen = new List<string>();
        var errors = new List<string>();
        var cursor = "0";
        var calls = 0;
        var crashed = false;
        do
        {
            var page = await client.CallAsync(HeldReplyBound, cts.Token, "SCAN", cursor, "MATCH", "scanfo:*", "COUNT", "20");
            if (page.Items is not { Count: 2 })
            {
                // An error answers this page only; the same cursor may be asked again.
                errors.Add($"SCAN {cursor}: {page}");
                Assert.True(errors.Count < 5, "SCAN kept failing: " + string.Join("; ", errors));
                continue;
            }

            if (crashed)
            {
                setup.Log.WriteLine($"TEST: SCAN {cursor} -> {page.Items[0].Text} ({page.Items[1].Items!.Count} keys)");
            }

            cursor = page.Items[0].Text!;
            seen.AddRange(page.Items[1].Items!.Select(i => i.Text!));
            var value = ulong.Parse(cursor, CultureInfo.InvariantCulture);
            if (!crashed && (int)(value & 1023) == crashedGroup && value >> 10 != 0)
            {
                // Half way through the crashed group's keys: its master dies under the scan.
                setup.Log.WriteLine($"TEST: DEBUG SEGFAULT on master 127.0.0.1:{master} of group {crashedGroup}, scan cursor {cursor}, {seen.Count} keys so far");
                await cluster.SegfaultAsync(master, cts.Token);
                crashed = true;
            }

            Assert.True(++calls < 10_000, "SCAN did not finish");
        }
        while (cursor != "0");

        var promotion = await cluster.WaitForPromotionAsync(master, PromotionBound, cts.Token);
        output.WriteLine($"{calls} SCAN calls, {seen.Count} keys returned ({seen.Distinct().Count()} distinct), errors: {string.Join("; ", errors)}; promoted 127.0.0.1:{promotion.Port}");
        Assert.True(crashed, "the scan never stood inside the crashed group");
        Assert.Empty(errors);
        var missing = keys.Except(seen, StringComparer.Ordinal).ToList();
        if (missing.Count > 0)
        {
            // Whether the promoted replica has them: a gap in the router's scan, or keys the failover lost.
            var direct = await cluster.CliAsync(promotion.Port, ["DBSIZE"], cts.Token);
            var page = await cluster.CliAsync(promotion.Port, ["SCAN", "0", "MATCH", "scanfo:*", "COUNT", "20"], cts.Token);
            output.WriteLine($"promoted 127.0.0.1:{promotion.Port}: DBSIZE {direct.Trim()}; SCAN 0 directly: {page.ReplaceLineEndings(" ")}");
            foreach (var node in cluster.Nodes.Where(n => n.Port == master || n.Port == promotion.Port))
            {
                output.WriteLine($"127.0.0.1:{node.Port}:\n{node.Diagnostics()}");
            }
        }

        Assert.True(missing.Count == 0, $"{missing.Count} keys never returned, e.g. {string.Join(", ", missing.Take(10))}");
        Assert.False(await client.WaitForCloseAsync(TimeSpan.FromMilliseconds(200), cts.Token), "the gateway closed the client's socket");
    }

    [Fact]
    public async Task Keyless_ItsMasterCrashes_AnotherMasterAnswersWellWithinTheHoldTime()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var setup = await Setup.StartAsync(output, null, null, cts.Token);
        var (gateway, cluster) = (setup.Gateway, setup.Cluster);

        // Keyless commands go to one master per session: with one client per group, one of them uses the crashed one.
        var clients = new List<RespClient>();
        try
        {
            foreach (var _ in gateway.MasterPorts)
            {
                var client = await RespClient.ConnectAsync(gateway.Port, cts.Token);
                clients.Add(client);
                var time = await client.CallAsync(ReplyBound, cts.Token, "TIME");
                Assert.True(time.Items is { Count: 2 }, $"TIME answered {time}");
            }

            var master = gateway.MasterPortOfGroup(gateway.GroupOfSlot(0));
            setup.Log.WriteLine($"TEST: DEBUG SEGFAULT on master 127.0.0.1:{master}");
            await cluster.SegfaultAsync(master, cts.Token);

            // Sent at once, while the crashed master may still hold its socket open (it writes its crash report).
            var answers = await Task.WhenAll(clients.Select(async client =>
            {
                var sw = Stopwatch.StartNew();
                var reply = await client.CallAsync(HeldReplyBound, cts.Token, "TIME");
                return (Reply: reply, sw.Elapsed);
            }));
            foreach (var (reply, elapsed) in answers)
            {
                output.WriteLine($"TIME after the crash: {reply} in {elapsed.TotalMilliseconds:0} ms");
            }

            // Before: the one aimed at the crashed master waited the whole hold time (20 s) and got CLUSTERDOWN.
            Assert.All(answers, a => Assert.True(a.Reply.Items is { Count: 2 }, $"TIME answered {a.Reply}"));
            Assert.All(answers, a => Assert.True(a.Elapsed < TimeSpan.FromSeconds(10), $"TIME took {a.Elapsed.TotalMilliseconds:0} ms"));
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }

    /// <summary>A private cluster and a router in front of it.</summary>
    private sealed class Setup : IAsyncDisposable
    {
        private Setup(RedisCluster cluster, TestOutputLoggerProvider log, RouterGateway gateway)
        {
            Cluster = cluster;
            Log = log;
            Gateway = gateway;
        }

        public RedisCluster Cluster { get; }

        public TestOutputLoggerProvider Log { get; }

        public RouterGateway Gateway { get; }

        public static async Task<Setup> StartAsync(ITestOutputHelper output, IReadOnlyList<string>? extraConfig, Action<RouterOptions>? configure, CancellationToken ct)
        {
            var cluster = await RedisCluster.StartAsync(new RedisClusterOptions { NodeTimeout = NodeTimeout, ExtraConfig = extraConfig ?? [] }, ct);
            var log = new TestOutputLoggerProvider(output);
            try
            {
                var gateway = await RouterGateway.StartAsync(cluster, log, configure, ct);
                return new Setup(cluster, log, gateway);
            }
            catch
            {
                log.Dispose();
                await cluster.DisposeAsync();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await Gateway.DisposeAsync();
            }
            finally
            {
                Log.Dispose();
                await Cluster.DisposeAsync();
            }
        }
    }
}
