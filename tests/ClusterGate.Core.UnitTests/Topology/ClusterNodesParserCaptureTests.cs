using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;
using Xunit;

namespace ClusterGate.Core.UnitTests.Topology;

/// <summary><c>CLUSTER NODES</c> replies captured from Redis 7.0.15 in the 6-node lab (see Captures/README.md).</summary>
public sealed class ClusterNodesParserCaptureTests
{
    // The lab's nodes; ports 7600-7605, bus ports 7700-7705. A fails over to F in the failover captures.
    private const string A = "0dadd00222a5e46e239a5a86623edce37e668763"; // 7600, master 0-5460
    private const string B = "3fb23e08c6ed28debc8b74273a8a06620b613445"; // 7601, master 5461-10922
    private const string C = "c7cb87412e01e9ddfe18900d2932957274b925ec"; // 7602, master 10923-16383
    private const string D = "f248a31f8ff237ca461858daad47a735b95d0b7a"; // 7603, replica of B
    private const string E = "e8483c2301153d436f17503e6e57d05ac169209d"; // 7604, replica of C
    private const string F = "80c96109eae37a212fbef2f2acef513808b75f2b"; // 7605, replica of A, promoted later

    [Theory]
    [InlineData("cluster-nodes.healthy.resp", 6)]
    [InlineData("cluster-nodes.master-pfail.resp", 6)]
    [InlineData("cluster-nodes.after-promotion.resp", 6)]
    [InlineData("cluster-nodes.migrating-slot0.from-source.resp", 6)]
    [InlineData("cluster-nodes.migrating-slot0.from-target.resp", 6)]
    [InlineData("cluster-nodes.old-master-rejoined-as-replica.resp", 6)]
    [InlineData("cluster-nodes.with-hostname.resp", 1)]
    public void Parse_Capture_ReadsEveryLineWithExactlyOneMyself(string capture, int expectedNodes)
    {
        var text = CaptureFiles.ReadBulkText(capture);

        var nodes = ClusterNodesParser.Parse(text);

        Assert.Equal(expectedNodes, text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Equal(expectedNodes, nodes.Count);
        Assert.Single(nodes, n => n.IsMyself);
        Assert.Equal(expectedNodes, nodes.Select(n => n.Id).Distinct().Count());
    }

    [Fact]
    public void Parse_Healthy_ReadsAllNodesInReplyOrder()
    {
        var nodes = Parse("cluster-nodes.healthy.resp");

        Assert.Equal([F, B, D, E, C, A], nodes.Select(n => n.Id));
        Assert.Equal([7605, 7601, 7603, 7604, 7602, 7600], nodes.Select(n => n.Port));
        Assert.Equal([7705, 7701, 7703, 7704, 7702, 7700], nodes.Select(n => n.BusPort));
        Assert.All(nodes, n => Assert.Equal("127.0.0.1", n.Ip));
        Assert.All(nodes, n => Assert.Null(n.Hostname));
        Assert.All(nodes, n => Assert.True(n.LinkConnected));
        Assert.All(nodes, n => Assert.False(n.IsUnhealthy));
        Assert.All(nodes, n => Assert.Empty(n.Migrations));
    }

    [Fact]
    public void Parse_Healthy_MyselfIsMasterOfFirstThird()
    {
        var a = Node(Parse("cluster-nodes.healthy.resp"), A);

        Assert.Equal(ClusterNodeFlags.Myself | ClusterNodeFlags.Master, a.Flags);
        Assert.Null(a.MasterId);
        Assert.Equal(0, a.PingSentMs);
        Assert.Equal(1795315424000, a.PongReceivedMs);
        Assert.Equal(1, a.ConfigEpoch);
        Assert.Equal([new SlotRange(0, 5460)], a.Slots);
        Assert.Equal(new NodeEndpoint("127.0.0.1", 7600), a.Endpoint);
    }

    [Fact]
    public void Parse_Healthy_MastersCoverAllSlotsWithTheirEpochs()
    {
        var nodes = Parse("cluster-nodes.healthy.resp");

        var masters = nodes.Where(n => n.IsMaster).OrderBy(n => n.Slots[0].Start).ToList();

        Assert.Equal([A, B, C], masters.Select(n => n.Id));
        Assert.Equal([new SlotRange(0, 5460)], masters[0].Slots);
        Assert.Equal([new SlotRange(5461, 10922)], masters[1].Slots);
        Assert.Equal([new SlotRange(10923, 16383)], masters[2].Slots);
        Assert.Equal([1L, 2L, 3L], masters.Select(n => n.ConfigEpoch));
        Assert.Equal(16384, masters.SelectMany(n => n.Slots).Sum(r => r.Count));
    }

    [Fact]
    public void Parse_Healthy_ReplicasPointAtTheirMastersAndShareTheirEpoch()
    {
        var nodes = Parse("cluster-nodes.healthy.resp");

        var f = Node(nodes, F);
        Assert.Equal(ClusterNodeFlags.Replica, f.Flags);
        Assert.Equal(A, f.MasterId);
        Assert.Equal(1, f.ConfigEpoch);
        Assert.Equal(1795315425000, f.PongReceivedMs);
        Assert.Empty(f.Slots);

        Assert.Equal(B, Node(nodes, D).MasterId);
        Assert.Equal(2, Node(nodes, D).ConfigEpoch);
        Assert.Equal(C, Node(nodes, E).MasterId);
        Assert.Equal(3, Node(nodes, E).ConfigEpoch);
        Assert.Equal(1795315425075, Node(nodes, E).PongReceivedMs);
    }

    [Fact]
    public void Parse_MasterPFail_CrashedMasterIsSuspectedButKeepsItsSlots()
    {
        var nodes = Parse("cluster-nodes.master-pfail.resp");

        var a = Node(nodes, A);
        Assert.Equal(ClusterNodeFlags.Master | ClusterNodeFlags.PossiblyFailed, a.Flags);
        Assert.False(a.IsMyself);
        Assert.True(a.IsUnhealthy);
        Assert.False(a.LinkConnected);
        Assert.Equal(1795315448825, a.PingSentMs);
        Assert.Equal(1795315447819, a.PongReceivedMs);
        Assert.Equal(1, a.ConfigEpoch);
        Assert.Equal([new SlotRange(0, 5460)], a.Slots);

        // Not promoted yet: the replica still follows the suspected master.
        var f = Node(nodes, F);
        Assert.Equal(ClusterNodeFlags.Replica, f.Flags);
        Assert.Equal(A, f.MasterId);
        Assert.Equal(1, f.ConfigEpoch);

        Assert.Equal(ClusterNodeFlags.Myself | ClusterNodeFlags.Master, Node(nodes, B).Flags);
    }

    [Fact]
    public void Parse_AfterPromotion_OldMasterFailedDisconnectedWithoutSlots()
    {
        var a = Node(Parse("cluster-nodes.after-promotion.resp"), A);

        Assert.Equal(ClusterNodeFlags.Master | ClusterNodeFlags.Failed, a.Flags);
        Assert.True(a.IsMaster);
        Assert.True(a.IsUnhealthy);
        Assert.False(a.LinkConnected);
        Assert.Null(a.MasterId);
        Assert.Equal(1795315448825, a.PingSentMs);
        Assert.Equal(1795315447819, a.PongReceivedMs);
        Assert.Equal(1, a.ConfigEpoch);
        Assert.Empty(a.Slots);
        Assert.Empty(a.Migrations);
    }

    [Fact]
    public void Parse_AfterPromotion_PromotedReplicaOwnsSlotsWithNewEpoch()
    {
        var nodes = Parse("cluster-nodes.after-promotion.resp");

        var f = Node(nodes, F);
        Assert.Equal(ClusterNodeFlags.Master, f.Flags);
        Assert.Null(f.MasterId);
        Assert.True(f.LinkConnected);
        Assert.Equal(7, f.ConfigEpoch);
        Assert.Equal(1795315451850, f.PongReceivedMs);
        Assert.Equal([new SlotRange(0, 5460)], f.Slots);

        // The highest epoch wins the slots: the new claim beats the failed master's last one.
        Assert.True(f.ConfigEpoch > Node(nodes, A).ConfigEpoch);
        Assert.Equal(ClusterNodeFlags.Myself | ClusterNodeFlags.Master, Node(nodes, B).Flags);
        Assert.Equal(B, Node(nodes, D).MasterId);
        Assert.Equal(C, Node(nodes, E).MasterId);
        Assert.Equal(16384, nodes.Where(n => n.IsMaster && !n.IsUnhealthy).SelectMany(n => n.Slots).Sum(r => r.Count));
    }

    [Fact]
    public void Parse_OldMasterRejoined_IsReplicaOfPromotedNode()
    {
        var nodes = Parse("cluster-nodes.old-master-rejoined-as-replica.resp");

        var a = Node(nodes, A);
        Assert.Equal(ClusterNodeFlags.Replica, a.Flags);
        Assert.Equal(F, a.MasterId);
        Assert.True(a.LinkConnected);
        Assert.False(a.IsUnhealthy);
        Assert.Equal(7, a.ConfigEpoch);
        Assert.Equal(1795315455577, a.PongReceivedMs);
        Assert.Empty(a.Slots);

        var f = Node(nodes, F);
        Assert.Equal(ClusterNodeFlags.Master, f.Flags);
        Assert.Equal(7, f.ConfigEpoch);
        Assert.Equal([new SlotRange(0, 5460)], f.Slots);
    }

    [Fact]
    public void Parse_MigratingFromSource_SourceHasMigratingMarkerForSlot0()
    {
        var nodes = Parse("cluster-nodes.migrating-slot0.from-source.resp");

        var a = Node(nodes, A);
        Assert.Equal(ClusterNodeFlags.Myself | ClusterNodeFlags.Master, a.Flags);
        Assert.Equal([new SlotRange(0, 5460)], a.Slots);
        Assert.Equal([new SlotMigration(0, Importing: false, PeerId: B)], a.Migrations);
        Assert.Equal(1795315433000, a.PongReceivedMs);

        // Only the reporting node prints its own migration state.
        Assert.Empty(Node(nodes, B).Migrations);
        Assert.Equal([new SlotRange(5461, 10922)], Node(nodes, B).Slots);
    }

    [Fact]
    public void Parse_MigratingFromTarget_TargetHasImportingMarkerForSlot0()
    {
        var nodes = Parse("cluster-nodes.migrating-slot0.from-target.resp");

        var b = Node(nodes, B);
        Assert.Equal(ClusterNodeFlags.Myself | ClusterNodeFlags.Master, b.Flags);
        Assert.Equal([new SlotRange(5461, 10922)], b.Slots);
        Assert.Equal([new SlotMigration(0, Importing: true, PeerId: A)], b.Migrations);

        // Slot 0 still belongs to the source until CLUSTER SETSLOT NODE.
        var a = Node(nodes, A);
        Assert.Equal([new SlotRange(0, 5460)], a.Slots);
        Assert.Empty(a.Migrations);
        Assert.Equal(1795315433746, a.PongReceivedMs);
    }

    [Fact]
    public void Parse_WithHostname_EmptyIpAndHostnameEndpoint()
    {
        var node = Assert.Single(Parse("cluster-nodes.with-hostname.resp"));

        Assert.Equal("3a4a0a79cf150ff88b1ca2bd2bd76cb990eee1a7", node.Id);
        Assert.Equal(string.Empty, node.Ip);
        Assert.Equal(7690, node.Port);
        Assert.Equal(7790, node.BusPort);
        Assert.Equal("node-a.example", node.Hostname);
        Assert.Equal(new NodeEndpoint("node-a.example", 7690), node.Endpoint);
        Assert.Equal(ClusterNodeFlags.Myself | ClusterNodeFlags.Master, node.Flags);
        Assert.Equal(0, node.PingSentMs);
        Assert.Equal(0, node.PongReceivedMs);
        Assert.Equal(0, node.ConfigEpoch);
        Assert.True(node.LinkConnected);
        Assert.Equal([new SlotRange(0, 16383)], node.Slots);
    }

    [Theory]
    [InlineData("cluster-nodes.healthy.resp")]
    [InlineData("cluster-nodes.after-promotion.resp")]
    [InlineData("cluster-nodes.migrating-slot0.from-source.resp")]
    [InlineData("cluster-nodes.with-hostname.resp")]
    public void Parse_EveryPrefixOfCapture_NeverThrowsAndNeverInventsNodes(string capture)
    {
        var text = CaptureFiles.ReadBulkText(capture);
        var full = ClusterNodesParser.Parse(text);

        for (var length = 0; length <= text.Length; length++)
        {
            var prefix = text[..length];
            var nodes = ClusterNodesParser.Parse(prefix);

            // A cut line may still read (a shorter slot range), but only complete lines are trusted to match.
            var completeLines = prefix.Count(c => c == '\n');
            Assert.InRange(nodes.Count, completeLines, completeLines + 1);
            Assert.Equal(full.Take(completeLines), nodes.Take(completeLines), ClusterNodeComparer.Instance);
        }
    }

    private static IReadOnlyList<ClusterNodeInfo> Parse(string capture) =>
        ClusterNodesParser.Parse(CaptureFiles.ReadBulkText(capture));

    private static ClusterNodeInfo Node(IReadOnlyList<ClusterNodeInfo> nodes, string id) =>
        Assert.Single(nodes, n => n.Id == id);

    /// <summary>Records compare their lists by reference; compare what the parser filled in.</summary>
    private sealed class ClusterNodeComparer : IEqualityComparer<ClusterNodeInfo>
    {
        public static readonly ClusterNodeComparer Instance = new();

        public bool Equals(ClusterNodeInfo? x, ClusterNodeInfo? y) =>
            x is not null && y is not null && Describe(x) == Describe(y);

        public int GetHashCode(ClusterNodeInfo obj) => Describe(obj).GetHashCode(StringComparison.Ordinal);

        private static string Describe(ClusterNodeInfo n) =>
            $"{n.Id} {n.Ip}:{n.Port}@{n.BusPort},{n.Hostname} {n.Flags} {n.MasterId} {n.PingSentMs} {n.PongReceivedMs} {n.ConfigEpoch} {n.LinkConnected} "
            + string.Join(' ', n.Slots) + " " + string.Join(' ', n.Migrations);
    }
}
