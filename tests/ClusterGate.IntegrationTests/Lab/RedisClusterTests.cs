using ClusterGate.IntegrationTests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace ClusterGate.IntegrationTests.Lab;

/// <summary>The fixture itself: a real cluster of the reference shape, and a crash drill on a private one.</summary>
[Collection(ClusterCollection.Name)]
public sealed class RedisClusterTests(RedisClusterFixture fixture, ITestOutputHelper output)
{
    private static readonly TimeSpan TestBound = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task StartAsync_Default_ThreeMastersThreeReplicasAllSlotsCovered()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var cluster = fixture.Cluster;

        Assert.Equal(RedisCluster.NodeCount, cluster.Nodes.Count);
        Assert.All(cluster.Nodes, n => Assert.True(n.IsRunning, $"{n} is not running"));
        Assert.Equal(RedisCluster.NodeCount, cluster.Nodes.Select(n => n.Port).Concat(cluster.Nodes.Select(n => n.BusPort)).Distinct().Count() / 2);

        foreach (var node in cluster.Nodes)
        {
            var lines = await cluster.ClusterNodeLinesAsync(node.Port, cts.Token);
            Assert.Equal(RedisCluster.NodeCount, lines.Count);
            var masters = lines.Where(l => l.IsMaster).ToList();
            var replicas = lines.Where(l => l.IsReplica).ToList();
            Assert.Equal(3, masters.Count);
            Assert.Equal(3, replicas.Count);
            Assert.All(replicas, r => Assert.Contains(masters, m => m.Id == r.MasterId));
            Assert.Equal(3, replicas.Select(r => r.MasterId).Distinct().Count());
            Assert.All(lines, l => Assert.Equal(cluster.Node(l.Port).BusPort, l.BusPort));

            var covered = new bool[RedisCluster.SlotCount];
            foreach (var master in masters)
            {
                for (var slot = 0; slot < RedisCluster.SlotCount; slot++)
                {
                    if (master.OwnsSlot(slot))
                    {
                        Assert.False(covered[slot], $"slot {slot} owned twice");
                        covered[slot] = true;
                    }
                }
            }

            Assert.All(covered, Assert.True);
        }
    }

    [Fact]
    public async Task MasterPortForSlotAsync_SlotOwner_AcceptsWritesForKeyInSlot()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var cluster = fixture.Cluster;

        // "foo" hashes to slot 12182 (Redis documentation example).
        var port = await cluster.MasterPortForSlotAsync(12182, cts.Token);
        var masters = await cluster.MasterPortsAsync(cts.Token);

        Assert.Contains(port, masters);
        Assert.Equal("12182", (await cluster.CliAsync(port, ["CLUSTER", "KEYSLOT", "foo"], cts.Token)).Trim());
        Assert.Equal("OK", (await cluster.CliAsync(port, ["SET", "foo", "bar"], cts.Token)).Trim());
        var other = masters.First(p => p != port);
        Assert.StartsWith("MOVED 12182", (await cluster.CliAsync(other, ["GET", "foo"], cts.Token)).Trim(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SegfaultAsync_Master_ReplicaPromotedAndOldMasterRejoinsAsItsReplica()
    {
        using var cts = new CancellationTokenSource(TestBound);
        // This test kills a node: it gets its own cluster, never the shared one.
        await using var cluster = await RedisCluster.StartAsync(ct: cts.Token);
        var victim = await cluster.MasterPortForSlotAsync(0, cts.Token);
        var victimId = cluster.Node(victim).Id;
        var replicasOfVictim = (await cluster.ClusterNodeLinesAsync(victim, cts.Token))
            .Where(l => l.IsReplica && l.MasterId == victimId)
            .Select(l => l.Port)
            .ToList();
        Assert.Single(replicasOfVictim);

        await cluster.SegfaultAsync(victim, cts.Token);
        Assert.False(cluster.Node(victim).IsRunning);

        var promotion = await cluster.WaitForPromotionAsync(victim, TimeSpan.FromSeconds(30), cts.Token);
        output.WriteLine($"promoted {promotion.Port} {promotion.AfterSegfault?.TotalMilliseconds:0} ms after the segfault");
        Assert.Equal(replicasOfVictim[0], promotion.Port);
        Assert.Equal(promotion.Port, await cluster.MasterPortForSlotAsync(0, cts.Token));

        await cluster.RestartAsync(victim, cts.Token);
        Assert.True(cluster.Node(victim).IsRunning);
        await cluster.WaitForReplicaOfAsync(victim, promotion.Port, TimeSpan.FromSeconds(30), cts.Token);
        await cluster.WaitForConvergenceAsync(TimeSpan.FromSeconds(30), cts.Token);
        Assert.Equal(promotion.Port, await cluster.MasterPortForSlotAsync(0, cts.Token));
    }

    [Fact]
    public async Task DisposeAsync_Cluster_KillsEveryProcessAndDeletesDirectory()
    {
        using var cts = new CancellationTokenSource(TestBound);
        var cluster = await RedisCluster.StartAsync(ct: cts.Token);
        var pids = cluster.Nodes.Select(n => n.Pid).ToList();
        var directory = cluster.Directory;

        await cluster.DisposeAsync();

        Assert.False(Directory.Exists(directory), $"{directory} still exists");
        Assert.All(pids, pid => Assert.False(Directory.Exists($"/proc/{pid}"), $"pid {pid} still runs"));
    }
}
