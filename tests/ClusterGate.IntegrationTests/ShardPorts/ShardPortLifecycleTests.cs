using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.ShardPorts;

/// <summary>Backpressure from a client that never reads, and a graceful stop with replies in flight.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ShardPortLifecycleTests(RedisClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ReplyBound = TimeSpan.FromSeconds(5);
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Backpressure_ClientNeverReadsLargeReplies_WritesBlockMemoryBoundedOthersServed()
    {
        using var cts = new CancellationTokenSource(TestBound);
        using var log = new TestOutputLoggerProvider(output);
        const int maxPending = 1024;
        const int valueSize = 10 * 1024;
        const int requests = 200_000;
        await using var gateway = await ShardGateway.StartAsync(fixture.Cluster, log, o => o.MaxPendingPerSession = maxPending, cts.Token);
        var group = gateway.Manager.Bindings[0];
        var tag = gateway.TagOfGroup(group.GroupId);

        // A long key makes the requests (~46 MB) far larger than every buffer between the client and the gateway.
        var key = $"{{{tag}}}:big:{_run}:" + new string('k', 180);
        await using var other = await RespClient.ConnectAsync(group.Port, cts.Token);
        Assert.True((await other.CallAsync(ReplyBound, cts.Token, "SET", key, new string('x', valueSize))).IsOk);

        var managedBefore = GC.GetTotalMemory(forceFullCollection: true);
        var workingSetBefore = Environment.WorkingSet;
        var request = RespClient.Encode("GET", key);
        var total = (long)request.Length * requests;
        var sent = 0L;
        await using var hog = await RespClient.ConnectAsync(group.Port, cts.Token);
        var sender = Task.Run(async () =>
        {
            var chunk = new byte[request.Length * 256];
            for (var i = 0; i < 256; i++)
            {
                request.CopyTo(chunk, i * request.Length);
            }

            for (var i = 0; i < requests / 256; i++)
            {
                await hog.SendRawAsync(chunk, cts.Token);
                Interlocked.Add(ref sent, chunk.Length);
            }
        }, CancellationToken.None);

        // Stalled: no progress for 2 s before everything was written.
        var lastSent = -1L;
        var lastProgress = Stopwatch.StartNew();
        var watch = Stopwatch.StartNew();
        while (lastProgress.Elapsed < TimeSpan.FromSeconds(2))
        {
            Assert.False(sender.IsCompleted, $"the client wrote all {total} bytes of {requests} GETs without being read: no backpressure ({sender.Exception?.Message})");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(40), "the client's writes neither finished nor stalled within 40 s");
            var now = Interlocked.Read(ref sent);
            if (now != lastSent)
            {
                lastSent = now;
                lastProgress.Restart();
            }

            await Task.Delay(100, cts.Token);
        }

        output.WriteLine($"the client's writes stalled after {lastSent} of {total} bytes ({lastSent / request.Length} of {requests} GETs), {watch.ElapsedMilliseconds} ms");

        // Meanwhile another client on the same port is served.
        var served = Stopwatch.StartNew();
        Assert.Equal("+PONG", (await other.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        Assert.Equal(valueSize, (await other.CallAsync(ReplyBound, cts.Token, "GET", key)).Text!.Length);
        output.WriteLine($"other client served in {served.ElapsedMilliseconds} ms while the hog was stalled");

        var managedGrowth = GC.GetTotalMemory(forceFullCollection: true) - managedBefore;
        var workingSetGrowth = Environment.WorkingSet - workingSetBefore;
        var omem = await MaxOutputMemoryAsync(gateway.MasterPortOfGroup(group.GroupId), cts.Token);
        output.WriteLine($"growth while stalled: managed {managedGrowth / 1048576.0:0.0} MB, working set {workingSetGrowth / 1048576.0:0.0} MB; largest backend output buffer on the master: {omem / 1048576.0:0.0} MB");
        Assert.True(managedGrowth < 300L * 1024 * 1024, $"managed memory grew by {managedGrowth} bytes");
        Assert.True(workingSetGrowth < 300L * 1024 * 1024, $"working set grew by {workingSetGrowth} bytes");

        // At most MaxPendingPerSession replies (of ~10 KB) were asked of the master and not yet taken.
        Assert.True(omem < 2L * maxPending * valueSize, $"the master buffers {omem} bytes for the gateway: more than {maxPending} pending replies");

        Assert.Equal("+PONG", (await other.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
    }

    [Fact]
    public async Task Backpressure_StalledClientsClose_SessionsAndBackendConnectionsReleased()
    {
        using var cts = new CancellationTokenSource(TestBound);
        using var log = new TestOutputLoggerProvider(output);
        const int hogCount = 4;
        await using var gateway = await ShardGateway.StartAsync(fixture.Cluster, log, o => o.MaxPendingPerSession = 1024, cts.Token);
        var group = gateway.Manager.Bindings[0];
        var key = $"{{{gateway.TagOfGroup(group.GroupId)}}}:big2:{_run}:" + new string('k', 180);
        var masterPort = gateway.MasterPortOfGroup(group.GroupId);
        await using (var setter = await RespClient.ConnectAsync(group.Port, cts.Token))
        {
            Assert.True((await setter.CallAsync(ReplyBound, cts.Token, "SET", key, new string('x', 10 * 1024))).IsOk);
        }

        // The setter's session (and its backend connection) must be gone before the baseline is taken.
        var settled = Stopwatch.StartNew();
        while (gateway.Manager.Bindings.Single(b => b.Port == group.Port).ActiveSessions > 0 && settled.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(50, cts.Token);
        }

        await Task.Delay(200, cts.Token);
        var connectionsBefore = await ClientCountAsync(masterPort, cts.Token);

        // Clients that pipeline GETs of a 10 KB value and never read, until their writes stall; then they go away.
        var request = RespClient.Encode("GET", key);
        var chunk = new byte[request.Length * 256];
        for (var i = 0; i < 256; i++)
        {
            request.CopyTo(chunk, i * request.Length);
        }

        var hogs = new List<RespClient>();
        var senders = new List<Task>();
        for (var h = 0; h < hogCount; h++)
        {
            var hog = await RespClient.ConnectAsync(group.Port, cts.Token);
            hogs.Add(hog);
            senders.Add(Task.Run(async () =>
            {
                for (var i = 0; i < 200_000 / 256; i++)
                {
                    await hog.SendRawAsync(chunk, cts.Token);
                }
            }, CancellationToken.None));
        }

        await Task.WhenAny(Task.WhenAll(senders), Task.Delay(TimeSpan.FromSeconds(3), cts.Token));
        Assert.All(senders, s => Assert.False(s.IsCompleted, "a client wrote everything without being read: no backpressure"));
        var stalled = gateway.Manager.Bindings.Single(b => b.Port == group.Port).ActiveSessions;
        output.WriteLine($"{stalled} sessions open while their clients stall");
        Assert.Equal(hogCount, stalled);

        foreach (var hog in hogs)
        {
            await hog.DisposeAsync();
        }

        var closedAt = Stopwatch.StartNew();
        while (gateway.Manager.Bindings.Single(b => b.Port == group.Port).ActiveSessions > 0 && closedAt.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(100, cts.Token);
        }

        var sessions = gateway.Manager.Bindings.Single(b => b.Port == group.Port).ActiveSessions;
        var connectionsAfter = await ClientCountAsync(masterPort, cts.Token);
        var leftOmem = await MaxOutputMemoryAsync(masterPort, cts.Token);
        output.WriteLine($"{closedAt.ElapsedMilliseconds} ms after {hogCount} stalled clients closed: {sessions} sessions left on the port, master connections {connectionsBefore} -> {connectionsAfter}, largest output buffer on the master {leftOmem / 1048576.0:0.0} MB");
        Assert.True(
            sessions == 0,
            $"{sessions} of {hogCount} sessions whose clients closed while stalled were still alive {closedAt.ElapsedMilliseconds} ms later, with their backend connections (master connections {connectionsBefore} -> {connectionsAfter}; the master still buffers up to {leftOmem} bytes for one)");
        Assert.Equal(connectionsBefore, connectionsAfter);
    }

    [Fact]
    public async Task StopAsync_RepliesInFlight_DeliveredThenSocketClosed()
    {
        using var cts = new CancellationTokenSource(TestBound);
        using var log = new TestOutputLoggerProvider(output);
        await using var gateway = await ShardGateway.StartAsync(fixture.Cluster, log, null, cts.Token);
        var group = gateway.Manager.Bindings[2];
        var tag = gateway.TagOfGroup(group.GroupId);
        await using var idle = await RespClient.ConnectAsync(group.Port, cts.Token);
        Assert.Equal("+PONG", (await idle.CallAsync(ReplyBound, cts.Token, "PING")).ToString());
        await using var client = await RespClient.ConnectAsync(group.Port, cts.Token);

        // BLPOP on an empty list answers after 1 s: the GETs behind it are in flight when the stop begins.
        var batch = new MemoryStream();
        batch.Write(RespClient.Encode("SET", $"{{{tag}}}:stop:{_run}", "kept"));
        batch.Write(RespClient.Encode("BLPOP", $"{{{tag}}}:stop-list:{_run}", "1"));
        for (var i = 0; i < 100; i++)
        {
            batch.Write(RespClient.Encode("GET", $"{{{tag}}}:stop:{_run}"));
        }

        await client.SendRawAsync(batch.ToArray(), cts.Token);
        Assert.True((await client.ReadAsync(ReplyBound, cts.Token)).IsOk);
        await Task.Delay(100, cts.Token);

        var stopWatch = Stopwatch.StartNew();
        var stop = gateway.StopAsync(cts.Token);

        var blpop = await client.ReadAsync(ReplyBound, cts.Token);
        Assert.True(blpop.IsNull, $"BLPOP answered {blpop}");
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal("kept", (await client.ReadAsync(ReplyBound, cts.Token)).Text);
        }

        Assert.True(await client.WaitForCloseAsync(ReplyBound, cts.Token), "the socket stayed open after the stop drained it");
        Assert.True(await idle.WaitForCloseAsync(ReplyBound, cts.Token), "an idle client's socket stayed open after the stop");
        await stop.WaitAsync(gateway.Options.DrainTimeout + TimeSpan.FromSeconds(5), cts.Token);
        output.WriteLine($"StopAsync took {stopWatch.ElapsedMilliseconds} ms");
        Assert.True(stopWatch.Elapsed < gateway.Options.DrainTimeout, $"StopAsync took {stopWatch.ElapsedMilliseconds} ms: it waited for the drain timeout instead of the replies");

        await Assert.ThrowsAnyAsync<SocketException>(async () => await (await RespClient.ConnectAsync(group.Port, cts.Token)).DisposeAsync());
    }

    private static async Task<int> ClientCountAsync(int port, CancellationToken ct)
    {
        await using var node = await RespClient.ConnectAsync(port, ct);
        return (await node.CallAsync(ReplyBound, ct, "CLIENT", "LIST")).Text!.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
    }

    /// <summary>The largest <c>omem</c> of any client connection on the node (CLIENT LIST).</summary>
    private static async Task<long> MaxOutputMemoryAsync(int port, CancellationToken ct)
    {
        await using var node = await RespClient.ConnectAsync(port, ct);
        var list = (await node.CallAsync(ReplyBound, ct, "CLIENT", "LIST")).Text!;
        return list.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split(' ').First(f => f.StartsWith("omem=", StringComparison.Ordinal))[5..])
            .Select(v => long.Parse(v, CultureInfo.InvariantCulture))
            .DefaultIfEmpty(0)
            .Max();
    }
}
