using System.Collections.Concurrent;
using System.Globalization;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;
using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Topology;

/// <summary>
/// <see cref="TopologyMonitor"/> through a real master crash. Each test crashes nodes, so each gets a private
/// cluster; a short node timeout keeps the failover (and the test) short.
/// </summary>
public sealed class TopologyMonitorFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StepBound = TimeSpan.FromSeconds(30);

    /// <summary>Generous: the target is ~100 ms (fast polling); this only catches a monitor that stops following.</summary>
    private static readonly TimeSpan MaxEventLag = TimeSpan.FromSeconds(2);

    private static readonly RedisClusterOptions FastFailover = new() { NodeTimeout = TimeSpan.FromMilliseconds(1000) };

    [Fact]
    public async Task Monitor_MasterSegfault_MasterChangedForSameGroupThenOldMasterRejoinsAsReplica()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var cluster = await RedisCluster.StartAsync(FastFailover, cts.Token);
        await using var monitor = new TopologyMonitor(Options(cluster));
        var events = new ConcurrentQueue<(TopologyEvent Event, DateTimeOffset ReceivedAt)>();
        var masterChanged = new TaskCompletionSource<(TopologyEvent Event, DateTimeOffset ReceivedAt)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = await monitor.StartAsync(cts.Token);
        Assert.True(start.AllGroupsConfirmed, "not every master confirmed at start");

        var victim = await cluster.MasterPortForSlotAsync(0, cts.Token);
        var victimId = cluster.Node(victim).Id;
        var group = start.GroupByNodeId(victimId) ?? throw new InvalidOperationException($"no group led by {victim}");
        Assert.Equal(victimId, group.Master!.Id);
        var replicaIds = group.Replicas.Select(r => r.Id).ToList();
        Assert.NotEmpty(replicaIds);
        monitor.EventRaised += e =>
        {
            var received = (e, DateTimeOffset.UtcNow);
            events.Enqueue(received);
            if (e.Kind == TopologyEventKind.MasterChanged && e.GroupId == group.Id)
            {
                masterChanged.TrySetResult(received);
            }
        };

        await cluster.SegfaultAsync(victim, cts.Token);
        var promotion = await cluster.WaitForPromotionAsync(victim, StepBound, cts.Token);
        var (changed, receivedAt) = await WaitAsync(masterChanged.Task, StepBound, $"MasterChanged for group {group.Id}", events);

        var lag = receivedAt - promotion.VisibleAt;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"promotion of {promotion.Port} visible {promotion.AfterSegfault?.TotalMilliseconds:0} ms after the segfault; MasterChanged {lag.TotalMilliseconds:0} ms after that (event stamped {(changed.Timestamp - promotion.VisibleAt).TotalMilliseconds:0} ms)"));
        Assert.Equal(promotion.NodeId, changed.NodeId);
        Assert.Equal(victimId, changed.PreviousNodeId);
        Assert.Contains(changed.NodeId, replicaIds);
        Assert.True(lag <= MaxEventLag, $"MasterChanged came {lag.TotalMilliseconds:0} ms after the promotion was visible (bound {MaxEventLag.TotalMilliseconds:0} ms)");
        var afterFailover = monitor.Current.GroupById(group.Id)!;
        Assert.Equal(group.Slots.ToArray(), afterFailover.Slots.ToArray());
        Assert.Equal(start.Groups.Select(g => g.Id), monitor.Current.Groups.Select(g => g.Id));
        Assert.Contains(events, e => e.Event is { Kind: TopologyEventKind.MasterLost } && e.Event.GroupId == group.Id && e.ReceivedAt <= receivedAt);

        await cluster.RestartAsync(victim, cts.Token);
        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(monitor.Current.GroupById(group.Id) is { MasterConfirmed: true } g
                && g.Master!.Id == promotion.NodeId
                && g.Replicas.Any(r => r.Id == victimId && !r.IsDown)),
            StepBound,
            $"the monitor to show {victim} as a replica of {promotion.Port} in group {group.Id}",
            () => Describe(monitor.Current),
            cts.Token);

        Assert.Equal(start.Groups.Select(g => g.Id), monitor.Current.Groups.Select(g => g.Id));
        Assert.DoesNotContain(events, e => e.Event.Kind is TopologyEventKind.GroupAdded or TopologyEventKind.GroupRemoved);
        Log(events);
    }

    [Fact]
    public async Task StartAsync_MasterDownBeforePromotion_StartsUnconfirmedThenConfirmsPromotedReplica()
    {
        using var cts = new CancellationTokenSource(TestBound);
        await using var cluster = await RedisCluster.StartAsync(FastFailover, cts.Token);
        var victim = await cluster.MasterPortForSlotAsync(0, cts.Token);
        var victimId = cluster.Node(victim).Id;
        var replicaIds = (await cluster.ClusterNodeLinesAsync(victim, cts.Token)).Where(l => l.IsReplica && l.MasterId == victimId).Select(l => l.Id).ToList();
        Assert.NotEmpty(replicaIds);

        await cluster.SegfaultAsync(victim, cts.Token);
        // Every node is a seed, the dead one included, as in a real configuration.
        await using var monitor = new TopologyMonitor(Options(cluster));
        var events = new ConcurrentQueue<(TopologyEvent Event, DateTimeOffset ReceivedAt)>();
        monitor.EventRaised += e => events.Enqueue((e, DateTimeOffset.UtcNow));
        var start = await monitor.StartAsync(cts.Token);

        var group = start.GroupForSlot(0) ?? throw new InvalidOperationException("slot 0 has no group at start: " + Describe(start));
        Assert.Equal(victimId, group.Master!.Id);
        Assert.False(group.MasterConfirmed);
        Assert.True(group.Master.IsDown, "the crashed master is not marked down");
        Assert.Equal(3, start.Groups.Length);
        Assert.All(start.Groups.Where(g => g.Id != group.Id), g => Assert.True(g.MasterConfirmed, $"group {g.Id} not confirmed"));
        Assert.True(start.AllSlotsCovered);

        await RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(monitor.Current.GroupById(group.Id) is { MasterConfirmed: true }),
            StepBound,
            $"group {group.Id} to get a confirmed master",
            () => Describe(monitor.Current),
            cts.Token);
        var promotion = await cluster.WaitForPromotionAsync(victim, StepBound, cts.Token);

        var confirmed = monitor.Current.GroupById(group.Id)!;
        Assert.Equal(promotion.NodeId, confirmed.Master!.Id);
        Assert.Contains(confirmed.Master.Id, replicaIds);
        Assert.Equal(group.Slots.ToArray(), confirmed.Slots.ToArray());
        Assert.True(monitor.Current.AllGroupsConfirmed);
        Assert.Equal(start.Groups.Select(g => g.Id), monitor.Current.Groups.Select(g => g.Id));
        Assert.Contains(events, e => e.Event is { Kind: TopologyEventKind.MasterChanged } && e.Event.GroupId == group.Id && e.Event.NodeId == promotion.NodeId);
        Log(events);
    }

    private static TopologyMonitorOptions Options(RedisCluster cluster) => new()
    {
        Seeds = [.. cluster.Nodes.Select(n => new NodeEndpoint("127.0.0.1", n.Port))],
    };

    private static async Task<T> WaitAsync<T>(Task<T> task, TimeSpan timeout, string what, ConcurrentQueue<(TopologyEvent Event, DateTimeOffset ReceivedAt)> events)
    {
        try
        {
            return await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"No {what} within {timeout.TotalSeconds:0} s. Events: {string.Join("; ", events.Select(e => e.Event))}");
        }
    }

    private static string Describe(TopologySnapshot snapshot) => string.Join("; ", snapshot.Groups.Select(g =>
        $"group {g.Id}: master {g.Master?.Announced} confirmed={g.MasterConfirmed} down={g.Master?.IsDown} replicas [{string.Join(',', g.Replicas.Select(r => $"{r.Announced}{(r.IsDown ? " down" : "")}"))}] slots {string.Join(' ', g.Slots)}"));

    private void Log(ConcurrentQueue<(TopologyEvent Event, DateTimeOffset ReceivedAt)> events)
    {
        foreach (var (e, receivedAt) in events)
        {
            output.WriteLine($"{receivedAt:HH:mm:ss.fff} {e}");
        }
    }
}
