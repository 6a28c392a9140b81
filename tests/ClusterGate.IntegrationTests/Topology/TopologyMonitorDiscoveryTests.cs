using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;
using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Topology;

/// <summary><see cref="TopologyMonitor"/> discovering the shared cluster. Nothing here breaks a node.</summary>
[Collection(ClusterCollection.Name)]
public sealed class TopologyMonitorDiscoveryTests(RedisClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task StartAsync_HealthyCluster_EqualsClusterNodes()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var cluster = fixture.Cluster;
        var seed = cluster.Nodes[0].Port;
        await using var monitor = new TopologyMonitor(Options(seed));

        var snapshot = await monitor.StartAsync(cts.Token);

        var lines = await cluster.ClusterNodeLinesAsync(seed, cts.Token);
        var masters = lines.Where(l => l.IsMaster && l.Slots.Length > 0).OrderBy(l => MinSlot(l.Slots)).ToList();
        Assert.Equal(3, masters.Count);
        Assert.Equal([0, 1, 2], snapshot.Groups.Select(g => g.Id));
        Assert.Equal(masters.Select(m => (m.Id, m.Port)), snapshot.Groups.Select(g => (g.Master!.Id, g.Master.Announced.Port)));
        Assert.Equal(masters.Select(m => m.Slots), snapshot.Groups.Select(g => string.Join(' ', g.Slots)));
        Assert.Equal(
            masters.Select(m => string.Join(',', lines.Where(r => r.IsReplica && r.MasterId == m.Id).Select(r => $"{r.Id}@{r.Port}").Order(StringComparer.Ordinal))),
            snapshot.Groups.Select(g => string.Join(',', g.Replicas.Select(r => $"{r.Id}@{r.Announced.Port}").Order(StringComparer.Ordinal))));
        Assert.All(snapshot.Groups, g => Assert.True(g.MasterConfirmed, $"group {g.Id} ({g.Master?.Announced}) not confirmed"));
        Assert.Equal(lines.Select(l => l.Id).Order(StringComparer.Ordinal), snapshot.Nodes.Select(n => n.Id).Order(StringComparer.Ordinal));
        Assert.All(snapshot.Nodes, n => Assert.True(n.Reachable && !n.IsDown, $"{n.Announced} reachable={n.Reachable} down={n.IsDown}"));
        Assert.All(snapshot.Nodes, n => Assert.Equal("127.0.0.1", n.Announced.Host));
        Assert.True(snapshot.AllSlotsCovered);
        Assert.Empty(snapshot.Migrations);
        Assert.Same(snapshot, monitor.Current);
        Assert.Equal(3, monitor.RecentEvents.Count(e => e.Kind == TopologyEventKind.GroupAdded));
    }

    [Fact]
    public async Task StartAsync_DeadFirstSeedThenLiveSeed_DiscoversEverything()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var cluster = fixture.Cluster;
        var dead = UnusedPort();
        await using var monitor = new TopologyMonitor(Options(dead, cluster.Nodes[3].Port));

        var snapshot = await monitor.StartAsync(cts.Token);

        Assert.Equal(3, snapshot.Groups.Length);
        Assert.Equal(RedisCluster.NodeCount, snapshot.Nodes.Length);
        Assert.True(snapshot.AllGroupsConfirmed);
        Assert.True(snapshot.AllSlotsCovered);
        Assert.All(snapshot.Groups, g => Assert.Single(g.Replicas));
        Assert.DoesNotContain(snapshot.Nodes, n => n.Announced.Port == dead);
    }

    [Fact]
    public async Task StartAsync_OnlyDeadSeeds_DiscoveryExceptionNamingEachSeedAndReason()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var first = UnusedPort();
        var second = UnusedPort();
        await using var monitor = new TopologyMonitor(Options(first, second));

        var ex = await Assert.ThrowsAsync<TopologyDiscoveryException>(() => monitor.StartAsync(cts.Token));

        output.WriteLine(ex.Message);
        Assert.Contains($"127.0.0.1:{first} (connection refused)", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{second} (connection refused)", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, ex.Views.Count);
        Assert.All(ex.Views, v => Assert.False(v.Answered));
        Assert.Same(TopologySnapshot.Empty, monitor.Current);
    }

    [Fact]
    public async Task Refresh_NoNodeAnswers_GroupsKeptUnconfirmedThenConfirmedAgain()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var cluster = fixture.Cluster;
        // The address map is read on every refresh: pointing every node at a dead port cuts the monitor off without
        // touching the shared cluster.
        var map = new ConcurrentDictionary<NodeEndpoint, NodeEndpoint>();
        var options = Options(cluster.Nodes[0].Port);
        options = new TopologyMonitorOptions { Seeds = options.Seeds, AddressMap = map, RefreshInterval = TimeSpan.FromSeconds(30) };
        await using var monitor = new TopologyMonitor(options);
        var events = new ConcurrentQueue<TopologyEvent>();
        monitor.EventRaised += events.Enqueue;
        var healthy = await monitor.StartAsync(cts.Token);
        Assert.True(healthy.AllGroupsConfirmed);

        var dead = new NodeEndpoint("127.0.0.1", UnusedPort());
        foreach (var node in healthy.Nodes)
        {
            map[node.Announced] = dead;
        }

        // The refresh right after the change still asks the addresses of the last snapshot; the one after that is cut off.
        var cutOff = await RefreshUntilAsync(monitor, s => s.Groups.All(g => !g.MasterConfirmed), cts.Token);

        Assert.Equal(healthy.Groups.Select(g => (g.Id, g.Master!.Id)), cutOff.Groups.Select(g => (g.Id, g.Master!.Id)));
        Assert.All(cutOff.Groups, g => Assert.False(g.MasterConfirmed, $"group {g.Id} still confirmed"));
        Assert.All(cutOff.Nodes, n => Assert.True(n.IsDown && !n.Reachable, $"{n.Announced} not marked down"));
        Assert.Equal(healthy.Groups.Select(g => string.Join(' ', g.Slots)), cutOff.Groups.Select(g => string.Join(' ', g.Slots)));
        Assert.Equal([0, 1, 2], events.Where(e => e.Kind == TopologyEventKind.MasterLost).Select(e => e.GroupId!.Value).Order());
        Assert.DoesNotContain(events, e => e.Kind is TopologyEventKind.GroupRemoved or TopologyEventKind.SlotsMoved);

        map.Clear();
        var back = await RefreshUntilAsync(monitor, s => s.AllGroupsConfirmed, cts.Token);

        Assert.Equal(healthy.Groups.Select(g => (g.Id, g.Master!.Id)), back.Groups.Select(g => (g.Id, g.Master!.Id)));
        Assert.All(back.Nodes, n => Assert.False(n.IsDown, $"{n.Announced} still down"));
        Assert.DoesNotContain(events, e => e.Kind is TopologyEventKind.GroupRemoved or TopologyEventKind.GroupAdded && e.SnapshotVersion > healthy.Version);
        foreach (var e in events)
        {
            output.WriteLine(e.ToString());
        }
    }

    /// <summary>Requests refreshes until a snapshot satisfies <paramref name="done"/>; bounded by the token.</summary>
    private static async Task<TopologySnapshot> RefreshUntilAsync(TopologyMonitor monitor, Func<TopologySnapshot, bool> done, CancellationToken ct)
    {
        while (true)
        {
            var next = monitor.NextSnapshotAsync(ct);
            monitor.RequestRefresh("test");
            var snapshot = await next;
            if (done(snapshot))
            {
                return snapshot;
            }
        }
    }

    private static TopologyMonitorOptions Options(params int[] seedPorts) => new()
    {
        Seeds = [.. seedPorts.Select(p => new NodeEndpoint("127.0.0.1", p))],
    };

    private static int MinSlot(string slots) => int.Parse(slots.Split(' ', '-')[0], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A loopback port that was free a moment ago and that nobody listens on.</summary>
    internal static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
