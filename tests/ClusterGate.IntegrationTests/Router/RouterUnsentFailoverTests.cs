using System.Diagnostics;
using System.Globalization;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>
/// A write the router queued on a shared backend connection but never sent (flushed) when its master
/// crashed never reached Redis: it must be routed again and succeed on the promoted replica, not be
/// answered "outcome unknown" like a write that was sent. Private cluster; runs in the crash collection
/// so two private clusters never fail over on the 2 cores at once.
/// </summary>
[Collection(ShardPortFailoverCollection.Name)]
public sealed class RouterUnsentFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(180);
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromMilliseconds(2000);
    private static readonly TimeSpan PromotionBound = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(10);

    /// <summary>Longer than the default hold (20 s): a command held across the failover still answers within it.</summary>
    private static readonly TimeSpan HeldReplyBound = TimeSpan.FromSeconds(30);

    /// <summary>How long the master is blocked; it is killed long before it wakes up.</summary>
    private const int SleepSeconds = 3;

    [Fact]
    public async Task Failover_WriteQueuedBehindUnansweredCommandWhenMasterDies_NeverSentSoRoutedAgainAndAcknowledged()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var cluster = await RedisCluster.StartAsync(new RedisClusterOptions { NodeTimeout = NodeTimeout }, cts.Token);
        var log = new TestOutputLoggerProvider(output);
        try
        {
            // One shared backend connection per master, so the two clients' commands below share it for sure
            // (with more, a client's connection is chosen by its session id, which the test cannot see).
            await using var gateway = await RouterGateway.StartAsync(cluster, log, o => o.ConnectionsPerMaster = 1, cts.Token);
            const string readKey = "{unsent}k1";
            const string writeKey = "{unsent}k2";
            var slot = HashSlots.Of(readKey);
            Assert.Equal(slot, HashSlots.Of(writeKey));
            var group = gateway.GroupOfSlot(slot);
            var master = gateway.MasterPortOfGroup(group);
            var masterNode = cluster.Node(master);

            // The key read during the crash exists on the master and its replica, so the read must find it after the promotion.
            await using var direct = await RespClient.ConnectAsync(master, cts.Token);
            Assert.True((await direct.CallAsync(ReplyBound, cts.Token, "SET", readKey, "v1")).IsOk);
            var replicated = await direct.CallAsync(ReplyBound, cts.Token, "WAIT", "1", "5000");
            Assert.True(replicated.Integer >= 1, $"WAIT 1 answered {replicated}: the replica does not have {readKey}");

            // Both clients use the router's shared connection to the master once, so it is connected before the test.
            await using var reader = await RespClient.ConnectAsync(gateway.Port, cts.Token);
            await using var writer = await RespClient.ConnectAsync(gateway.Port, cts.Token);
            Assert.Equal("v1", (await reader.CallAsync(ReplyBound, cts.Token, "GET", readKey)).Text);
            Assert.True((await writer.CallAsync(ReplyBound, cts.Token, "DEL", writeKey)).Type == ':');

            // The master is blocked: it reads nothing and answers nothing until it is killed.
            await using var sleeper = await RespClient.ConnectAsync(master, cts.Token);
            var asleep = Stopwatch.StartNew();
            await sleeper.SendAsync(cts.Token, "DEBUG", "SLEEP", SleepSeconds.ToString(CultureInfo.InvariantCulture));
            var sleepReply = sleeper.ReadAsync(TimeSpan.FromSeconds(SleepSeconds + 10), cts.Token);
            await Task.Delay(200, cts.Token);
            log.WriteLine($"TEST: DEBUG SLEEP {SleepSeconds} sent to 127.0.0.1:{master} {asleep.ElapsedMilliseconds} ms ago; GET {readKey} through the router");

            // Nothing is unanswered on the shared connection: the GET is sent (flushed) at once. The master
            // sleeps, so the GET stays unanswered...
            await reader.SendAsync(cts.Token, "GET", readKey);
            var getReply = TimedReadAsync(reader, cts.Token);
            await Task.Delay(100, cts.Token);
            log.WriteLine($"TEST: SET {writeKey} through the router on another client, {asleep.ElapsedMilliseconds} ms into the sleep");

            // ...and the SET from the other client is only written to the shared connection's pipe: while a
            // command it sent is unanswered, the connection leaves the flush to its reader, which sends the
            // batch when replies come back. None come back before the kill, so the SET never leaves the
            // gateway. (Before this behaviour, the SET was flushed at once, sat unread in the sleeping
            // master's socket, and was answered "-ERR outcome unknown" when the master died.)
            await writer.SendAsync(cts.Token, "SET", writeKey, "v");
            var setReply = TimedReadAsync(writer, cts.Token);
            await Task.Delay(150, cts.Token);

            // Preconditions of the scenario: the master is still asleep (so nothing was answered and
            // the SET is still unflushed), and the gateway still routes the group to it (the SET was
            // written to the shared connection, not held for lack of a master).
            Assert.False(sleepReply.IsCompleted, "the master woke up before the kill");
            Assert.True(asleep.Elapsed < TimeSpan.FromSeconds(SleepSeconds - 0.5), $"the scenario took {asleep.ElapsedMilliseconds} ms: too close to the end of DEBUG SLEEP {SleepSeconds}");
            if (getReply.IsCompleted || setReply.IsCompleted)
            {
                Assert.Fail($"answered while the master slept: GET {(getReply.IsCompleted ? (await getReply).Reply : "-")}, SET {(setReply.IsCompleted ? (await setReply).Reply : "-")}");
            }

            Assert.Equal(master, gateway.Monitor.Current.GroupById(group)?.RoutableMaster?.Connect.Port);

            // SIGKILL: a blocked master cannot run DEBUG SEGFAULT. Only the test's own redis-server is killed.
            Assert.True(masterNode.IsRunning);
            log.WriteLine($"TEST: SIGKILL master 127.0.0.1:{master} (pid {masterNode.Pid}) of group {group}, asleep for {asleep.ElapsedMilliseconds} ms");
            var killedAt = Stopwatch.GetTimestamp();
            using (var process = Process.GetProcessById(masterNode.Pid))
            {
                process.Kill();
            }

            Assert.True(await masterNode.WaitForExitAsync(TimeSpan.FromSeconds(10), cts.Token), $"{masterNode} did not exit after SIGKILL");
            await Assert.ThrowsAnyAsync<Exception>(() => sleepReply);

            var promotion = await cluster.WaitForPromotionAsync(master, PromotionBound, cts.Token);
            log.WriteLine($"TEST: 127.0.0.1:{promotion.Port} promoted, visible {Stopwatch.GetElapsedTime(killedAt).TotalMilliseconds:0} ms after the kill");
            await gateway.WaitForConfirmedMasterAsync(group, promotion.Port, TimeSpan.FromSeconds(10), cts.Token);

            var set = await setReply;
            var get = await getReply;
            output.WriteLine($"SET answered {set.Reply} after {Stopwatch.GetElapsedTime(killedAt, set.At).TotalMilliseconds:0} ms from the kill; "
                + $"GET answered {get.Reply} after {Stopwatch.GetElapsedTime(killedAt, get.At).TotalMilliseconds:0} ms from the kill");
            Assert.False(set.Reply.IsError && set.Reply.Text!.Contains("outcome unknown", StringComparison.Ordinal), $"the never-sent SET was answered {set.Reply}");
            Assert.True(set.Reply.IsOk, $"the never-sent SET was answered {set.Reply}");
            Assert.Equal("v1", get.Reply.Text);

            // The write is on the promoted master and reads back through the router.
            Assert.Equal("v", (await writer.CallAsync(ReplyBound, cts.Token, "GET", writeKey)).Text);
            await using var promoted = await RespClient.ConnectAsync(promotion.Port, cts.Token);
            Assert.Equal("v", (await promoted.CallAsync(ReplyBound, cts.Token, "GET", writeKey)).Text);
        }
        finally
        {
            // The private cluster goes away with the killed node; nothing of it outlives the test.
            log.Dispose();
            await cluster.DisposeAsync();
        }
    }

    private static async Task<(RespReply Reply, long At)> TimedReadAsync(RespClient client, CancellationToken ct)
    {
        var reply = await client.ReadAsync(HeldReplyBound, ct);
        return (reply, Stopwatch.GetTimestamp());
    }
}
