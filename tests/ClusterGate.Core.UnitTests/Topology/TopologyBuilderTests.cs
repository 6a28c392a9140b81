using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;
using Xunit;

namespace ClusterGate.Core.UnitTests.Topology;

/// <summary>
/// The captured failover timeline (Captures/README.md) replayed through <see cref="TopologyBuilder"/>: healthy,
/// master crashed, replica promoted, old master back as a replica. Each step builds on the previous snapshot
/// with the same builder, as the monitor does.
/// </summary>
public sealed class TopologyBuilderTests
{
    // The lab's nodes (ports 7600-7605). A crashes and F, its replica, is promoted.
    private const string A = "0dadd00222a5e46e239a5a86623edce37e668763"; // 7600, master 0-5460, epoch 1
    private const string B = "3fb23e08c6ed28debc8b74273a8a06620b613445"; // 7601, master 5461-10922, epoch 2
    private const string C = "c7cb87412e01e9ddfe18900d2932957274b925ec"; // 7602, master 10923-16383, epoch 3
    private const string D = "f248a31f8ff237ca461858daad47a735b95d0b7a"; // 7603, replica of B
    private const string E = "e8483c2301153d436f17503e6e57d05ac169209d"; // 7604, replica of C
    private const string F = "80c96109eae37a212fbef2f2acef513808b75f2b"; // 7605, replica of A, promoted with epoch 7

    private static readonly Dictionary<string, int> PortById = new(StringComparer.Ordinal)
    {
        [A] = 7600,
        [B] = 7601,
        [C] = 7602,
        [D] = 7603,
        [E] = 7604,
        [F] = 7605,
    };

    private static readonly DateTimeOffset T0 = new(2026, 11, 21, 10, 0, 0, TimeSpan.Zero);

    private readonly TopologyBuilder _builder = new();

    [Fact]
    public void Build_HealthyViews_ThreeGroupsNumberedByLowestSlotAllConfirmed()
    {
        var snapshot = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);

        Assert.Equal([0, 1, 2], snapshot.Groups.Select(g => g.Id));
        Assert.Equal([A, B, C], snapshot.Groups.Select(g => g.Master!.Id));
        Assert.Equal([[F], [D], [E]], snapshot.Groups.Select(g => g.Replicas.Select(r => r.Id).ToArray()));
        Assert.Equal([[new SlotRange(0, 5460)], [new SlotRange(5461, 10922)], [new SlotRange(10923, 16383)]], snapshot.Groups.Select(g => g.Slots.ToArray()));
        Assert.All(snapshot.Groups, g => Assert.True(g.MasterConfirmed, $"group {g.Id} not confirmed"));
        Assert.True(snapshot.AllSlotsCovered);
        Assert.Equal(6, snapshot.Nodes.Length);
        Assert.All(snapshot.Nodes, n => Assert.False(n.IsDown, $"{n.Announced} down"));
        Assert.Equal(1, snapshot.Version);
        Assert.Equal(T0, snapshot.CreatedAt);
        Assert.Empty(snapshot.Migrations);
    }

    [Fact]
    public void Build_OnlySeedAnswered_OnlyThatMasterConfirmed()
    {
        // The seed's CLUSTER NODES names every node, but only the seed's own INFO says role:master.
        var seed = new[] { View(CaptureFiles.ReadBulkText("cluster-nodes.healthy.resp"), Info("info-replication.master.resp"), A) };

        var snapshot = _builder.Build(seed, TopologySnapshot.Empty, T0);

        Assert.Equal([A, B, C], snapshot.Groups.Select(g => g.Master!.Id));
        Assert.Equal([true, false, false], snapshot.Groups.Select(g => g.MasterConfirmed));
        Assert.All(snapshot.Groups.Skip(1), g => Assert.False(g.Master!.Reachable));
    }

    [Fact]
    public void Build_MasterAnsweredWithoutInfo_NotConfirmed()
    {
        var views = HealthyViews().Select(v => v.Self!.Id == B ? v with { Replication = null } : v).ToList();

        var snapshot = _builder.Build(views, TopologySnapshot.Empty, T0);

        Assert.Equal([true, false, true], snapshot.Groups.Select(g => g.MasterConfirmed));
    }

    [Fact]
    public void Build_InfoSaysSlaveWhileClusterNodesSaysMaster_NotConfirmedAndMasterLost()
    {
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);
        // A is master in every CLUSTER NODES, but its own INFO says it replicates 7605 (captured on the rejoined A).
        var views = HealthyViews().Select(v => v.Self!.Id == A ? v with { Replication = Info("info-replication.old-master-now-replica.resp") } : v).ToList();

        var snapshot = _builder.Build(views, healthy, T0.AddSeconds(1));

        var group = snapshot.GroupById(0)!;
        Assert.Equal(A, group.Master!.Id);
        Assert.False(group.MasterConfirmed);
        Assert.Null(group.RoutableMaster);
        Assert.True(group.Master.Reachable);
        Assert.False(group.Master.IsDown);
        Assert.Equal([false, true, true], snapshot.Groups.Select(g => g.MasterConfirmed));
        var lost = Assert.Single(TopologyDiff.Compare(healthy, snapshot));
        Assert.Equal((TopologyEventKind.MasterLost, 0, A), (lost.Kind, lost.GroupId, lost.NodeId));
    }

    [Fact]
    public void Build_MasterCrashed_GroupKeepsIdUnconfirmedMasterLost()
    {
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);

        var crashed = _builder.Build(CrashedViews(), healthy, T0.AddSeconds(3));

        Assert.Equal([0, 1, 2], crashed.Groups.Select(g => g.Id));
        var group = crashed.GroupById(0)!;
        Assert.Equal(A, group.Master!.Id);
        Assert.False(group.MasterConfirmed);
        Assert.True(group.Master.IsDown);
        Assert.True(group.Master.IsSuspected);
        Assert.False(group.Master.Reachable);
        Assert.Equal([F], group.Replicas.Select(r => r.Id));
        Assert.Equal([new SlotRange(0, 5460)], group.Slots.ToArray());
        Assert.Same(group, crashed.GroupForSlot(0));
        Assert.Equal([false, true, true], crashed.Groups.Select(g => g.MasterConfirmed));

        var events = TopologyDiff.Compare(healthy, crashed);
        Assert.Equal(2, events.Count);
        Assert.Contains(events, e => e is { Kind: TopologyEventKind.MasterLost, GroupId: 0, NodeId: A });
        Assert.Contains(events, e => e is { Kind: TopologyEventKind.NodeDown, GroupId: 0, NodeId: A });
        Assert.All(events, e => Assert.Equal(T0.AddSeconds(3), e.Timestamp));
    }

    [Fact]
    public void Build_MasterUnreachableBeforeAnyPeerSuspectsIt_DownAndUnconfirmed()
    {
        // The first moments after the crash: peers still say "master connected", only the gateway cannot reach it.
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);
        var views = HealthyViews().Select(v => v.Self!.Id == A ? Dead(7600) : v).ToList();

        var snapshot = _builder.Build(views, healthy, T0.AddSeconds(1));

        var group = snapshot.GroupById(0)!;
        Assert.Equal(A, group.Master!.Id);
        Assert.True(group.Master.IsDown);
        Assert.False(group.Master.IsSuspected);
        Assert.False(group.MasterConfirmed);
    }

    [Fact]
    public void Build_MasterSilentAtTheStartOfALongScriptThenBusy_ConfirmedAgain()
    {
        // A script runs: for Redis's busy-reply-threshold the master answers nothing (taken for a crash), then -BUSY.
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);
        var silent = _builder.Build(HealthyViews().Select(v => v.Self!.Id == A ? Dead(7600) : v).ToList(), healthy, T0.AddSeconds(1));
        Assert.False(silent.GroupById(0)!.MasterConfirmed);

        var busyView = new NodeView(new NodeEndpoint("127.0.0.1", 7600), null, null, "BUSY Redis is busy running a script.") { Busy = true };
        var busy = _builder.Build(HealthyViews().Select(v => v.Self!.Id == A ? busyView : v).ToList(), silent, T0.AddSeconds(2));

        var group = busy.GroupById(0)!;
        Assert.Equal(A, group.RoutableMaster?.Id);
        Assert.True(group.Master!.IsBusy);
        Assert.True(group.MasterConfirmed);
    }

    [Fact]
    public void Build_ReplicaPromoted_SameGroupIdNewMasterMasterChanged()
    {
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);
        var crashed = _builder.Build(CrashedViews(), healthy, T0.AddSeconds(3));

        var promoted = _builder.Build(PromotedViews(), crashed, T0.AddSeconds(4));

        Assert.Equal([0, 1, 2], promoted.Groups.Select(g => g.Id));
        var group = promoted.GroupById(0)!;
        Assert.Equal(F, group.Master!.Id);
        Assert.Equal(7, group.Master.ConfigEpoch);
        Assert.True(group.MasterConfirmed);
        Assert.Equal([new SlotRange(0, 5460)], group.Slots.ToArray());
        Assert.Empty(group.Replicas);
        Assert.True(promoted.AllGroupsConfirmed);
        Assert.Equal(F, promoted.GroupForSlot(0)!.Master!.Id);
        // The dead master is still a known node, down, but leads nothing.
        Assert.True(promoted.NodeById(A)!.IsDown);
        Assert.Null(promoted.GroupByNodeId(A));

        var changed = Assert.Single(TopologyDiff.Compare(crashed, promoted), e => e.Kind == TopologyEventKind.MasterChanged);
        Assert.Equal((0, F, A), (changed.GroupId, changed.NodeId, changed.PreviousNodeId));
        Assert.Equal("master 127.0.0.1:7600 -> 127.0.0.1:7605", changed.Detail);
        Assert.DoesNotContain(TopologyDiff.Compare(crashed, promoted), e => e.Kind is TopologyEventKind.GroupAdded or TopologyEventKind.GroupRemoved or TopologyEventKind.SlotsMoved);
    }

    [Fact]
    public void Build_PromotionSeenOnlyByPromotedReplica_HigherEpochWins()
    {
        // F already says myself,master (epoch 7); B still has the pfail view where F is a replica of A (epoch 1).
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);
        var views = new List<NodeView>
        {
            Dead(7600),
            View(CaptureFiles.ReadBulkText("cluster-nodes.master-pfail.resp"), MasterInfo(7603), B),
            View(SeenBy(CaptureFiles.ReadBulkText("cluster-nodes.after-promotion.resp"), F), Info("info-replication.promoted-master-no-replica.resp"), F),
        };

        var snapshot = _builder.Build(views, healthy, T0.AddSeconds(4));

        var group = snapshot.GroupById(0)!;
        Assert.Equal(F, group.Master!.Id);
        Assert.True(group.MasterConfirmed);
        Assert.Equal([new SlotRange(0, 5460)], group.Slots.ToArray());
        Assert.Equal(F, Assert.Single(TopologyDiff.Compare(healthy, snapshot), e => e.Kind == TopologyEventKind.MasterChanged).NodeId);
    }

    [Fact]
    public void Build_PromotionDirectlyAfterHealthy_SameGroupMasterChanged()
    {
        // A refresh may miss the pfail phase entirely.
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);

        var promoted = _builder.Build(PromotedViews(), healthy, T0.AddSeconds(4));

        Assert.Equal([F, B, C], promoted.Groups.Select(g => g.Master!.Id));
        Assert.Equal([0, 1, 2], promoted.Groups.Select(g => g.Id));
        var changed = Assert.Single(TopologyDiff.Compare(healthy, promoted), e => e.Kind == TopologyEventKind.MasterChanged);
        Assert.Equal((0, F, A), (changed.GroupId, changed.NodeId, changed.PreviousNodeId));
    }

    [Fact]
    public void Build_OldMasterRejoinedAsReplica_ReplicaOfSameGroup()
    {
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);
        var crashed = _builder.Build(CrashedViews(), healthy, T0.AddSeconds(3));
        var promoted = _builder.Build(PromotedViews(), crashed, T0.AddSeconds(4));

        var rejoined = _builder.Build(RejoinedViews(), promoted, T0.AddSeconds(10));

        Assert.Equal([0, 1, 2], rejoined.Groups.Select(g => g.Id));
        var group = rejoined.GroupById(0)!;
        Assert.Equal(F, group.Master!.Id);
        Assert.True(group.MasterConfirmed);
        var replica = Assert.Single(group.Replicas);
        Assert.Equal(A, replica.Id);
        Assert.False(replica.IsDown);
        Assert.Equal(ReplicationRole.Replica, replica.Replication!.Role);
        Assert.Equal(7605, replica.Replication.MasterPort);
        Assert.Same(group, rejoined.GroupByNodeId(A));
        Assert.True(rejoined.AllGroupsConfirmed);

        var events = TopologyDiff.Compare(promoted, rejoined);
        var up = Assert.Single(events);
        Assert.Equal((TopologyEventKind.NodeUp, 0, A), (up.Kind, up.GroupId, up.NodeId));
    }

    [Fact]
    public void Build_RestartedOldMasterStillClaimsItsSlotsWithLowerEpoch_HigherEpochWins()
    {
        // Right after the restart, A's own nodes.conf still says myself,master 0-5460 (epoch 1) with F as its replica.
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);
        var promoted = _builder.Build(PromotedViews(), healthy, T0.AddSeconds(4));
        var views = PromotedViews().Where(v => v.Answered).Append(View(CaptureFiles.ReadBulkText("cluster-nodes.healthy.resp"), Info("info-replication.master.resp"), A)).ToList();

        var snapshot = _builder.Build(views, promoted, T0.AddSeconds(6));

        Assert.Equal([0, 1, 2], snapshot.Groups.Select(g => g.Id));
        Assert.Equal([F, B, C], snapshot.Groups.Select(g => g.Master!.Id));
        Assert.Equal(F, snapshot.GroupForSlot(0)!.Master!.Id);
        Assert.Equal(F, snapshot.GroupForSlot(5460)!.Master!.Id);
        Assert.True(snapshot.GroupById(0)!.MasterConfirmed);
        Assert.Null(snapshot.GroupByNodeId(A));
        Assert.DoesNotContain(TopologyDiff.Compare(promoted, snapshot), e => e.Kind is TopologyEventKind.MasterChanged or TopologyEventKind.MasterLost or TopologyEventKind.SlotsMoved);
    }

    [Fact]
    public void Build_StaleViewClaimsSlotRangeWithLowerEpoch_HigherEpochWinsPerSlot()
    {
        // Slots 100-199 moved from A (epoch 1) to B, which bumped its epoch to 9; C's view has not heard yet.
        const string Fresh = $"""
            {A} 127.0.0.1:7600@7700 master - 0 0 1 connected 0-99 200-5460
            {B} 127.0.0.1:7601@7701 myself,master - 0 0 9 connected 100-199 5461-10922
            {C} 127.0.0.1:7602@7702 master - 0 0 3 connected 10923-16383
            """;
        const string Stale = $"""
            {A} 127.0.0.1:7600@7700 master - 0 0 1 connected 0-5460
            {B} 127.0.0.1:7601@7701 master - 0 0 2 connected 5461-10922
            {C} 127.0.0.1:7602@7702 myself,master - 0 0 3 connected 10923-16383
            """;
        var views = new[] { View(Stale, MasterInfo(), C), View(Fresh, MasterInfo(), B) };

        var snapshot = _builder.Build(views, TopologySnapshot.Empty, T0);

        Assert.Equal(A, snapshot.GroupForSlot(99)!.Master!.Id);
        Assert.Equal(B, snapshot.GroupForSlot(100)!.Master!.Id);
        Assert.Equal(B, snapshot.GroupForSlot(199)!.Master!.Id);
        Assert.Equal(A, snapshot.GroupForSlot(200)!.Master!.Id);
        Assert.Equal([new SlotRange(0, 99), new SlotRange(200, 5460)], snapshot.GroupById(0)!.Slots.ToArray());
        Assert.Equal([new SlotRange(100, 199), new SlotRange(5461, 10922)], snapshot.GroupById(1)!.Slots.ToArray());
        Assert.True(snapshot.AllSlotsCovered);
    }

    [Fact]
    public void Build_ImportingAndMigratingMarkers_EndUpInMigrations()
    {
        var views = HealthyViews().Select(v => v.Self!.Id switch
        {
            A => v with { Nodes = ClusterNodesParser.Parse(CaptureFiles.ReadBulkText("cluster-nodes.migrating-slot0.from-source.resp")) },
            B => v with { Nodes = ClusterNodesParser.Parse(CaptureFiles.ReadBulkText("cluster-nodes.migrating-slot0.from-target.resp")) },
            _ => v,
        }).ToList();

        var snapshot = _builder.Build(views, TopologySnapshot.Empty, T0);

        Assert.Equal(2, snapshot.Migrations.Length);
        Assert.Contains(new SlotMigration(0, Importing: false, B), snapshot.Migrations);
        Assert.Contains(new SlotMigration(0, Importing: true, A), snapshot.Migrations);
        // Until SETSLOT NODE, the slot still belongs to the source.
        Assert.Equal(A, snapshot.GroupForSlot(0)!.Master!.Id);
        Assert.True(snapshot.AllGroupsConfirmed);
    }

    [Fact]
    public void Build_NoViewAnswered_NoGroups()
    {
        // The builder knows only what views say; keeping the last groups (unconfirmed) when nobody answers is the
        // monitor's job (TopologyMonitor.Unconfirmed), which never hands the builder an all-failed set.
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);
        var views = PortById.Values.Select(Dead).ToList();

        var snapshot = _builder.Build(views, healthy, T0.AddSeconds(1));

        Assert.Empty(snapshot.Groups);
        Assert.Empty(snapshot.Nodes);
        Assert.Equal(healthy.Version + 1, snapshot.Version);
    }

    [Fact]
    public void Build_GroupRemovedThenNewMaster_IdNotReused()
    {
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);
        // C's slots moved to B, then C and its replica E were forgotten: group 2 is empty and goes away.
        const string TwoGroups = $"""
            {A} 127.0.0.1:7600@7700 myself,master - 0 0 1 connected 0-5460
            {F} 127.0.0.1:7605@7705 slave {A} 0 0 1 connected
            {B} 127.0.0.1:7601@7701 master - 0 0 9 connected 5461-16383
            {D} 127.0.0.1:7603@7703 slave {B} 0 0 9 connected
            """;
        var shrunk = _builder.Build([View(TwoGroups, MasterInfo(7605), A)], healthy, T0.AddSeconds(1));
        Assert.Equal([0, 1], shrunk.Groups.Select(g => g.Id));
        Assert.Contains(TopologyDiff.Compare(healthy, shrunk), e => e is { Kind: TopologyEventKind.GroupRemoved, GroupId: 2 });

        // A new master G takes B's upper slots.
        const string G = "1111111111111111111111111111111111111111";
        const string Grown = $"""
            {A} 127.0.0.1:7600@7700 myself,master - 0 0 1 connected 0-5460
            {F} 127.0.0.1:7605@7705 slave {A} 0 0 1 connected
            {B} 127.0.0.1:7601@7701 master - 0 0 9 connected 5461-10922
            {D} 127.0.0.1:7603@7703 slave {B} 0 0 9 connected
            {G} 127.0.0.1:7606@7706 master - 0 0 10 connected 10923-16383
            """;
        var grown = _builder.Build([View(Grown, MasterInfo(7605), A)], shrunk, T0.AddSeconds(2));

        Assert.Equal([0, 1, 3], grown.Groups.Select(g => g.Id));
        Assert.Equal(G, grown.GroupById(3)!.Master!.Id);
        Assert.Equal(B, grown.GroupById(1)!.Master!.Id);
        Assert.Contains(TopologyDiff.Compare(shrunk, grown), e => e is { Kind: TopologyEventKind.GroupAdded, GroupId: 3, NodeId: G });
    }

    [Fact]
    public void Build_NewMasterTakesLowSlotsOfEveryGroup_ExistingMastersKeepTheirGroups()
    {
        // `redis-cli --cluster rebalance` after adding G: G gets the lowest slots of every group, so its lowest slot
        // sorts first. The existing masters must keep their group (and shard port); G gets a new one.
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);
        const string G = "1111111111111111111111111111111111111111";
        const string Rebalanced = $"""
            {A} 127.0.0.1:7600@7700 myself,master - 0 0 1 connected 1365-5460
            {F} 127.0.0.1:7605@7705 slave {A} 0 0 1 connected
            {B} 127.0.0.1:7601@7701 master - 0 0 2 connected 6827-10922
            {D} 127.0.0.1:7603@7703 slave {B} 0 0 2 connected
            {C} 127.0.0.1:7602@7702 master - 0 0 3 connected 12288-16383
            {E} 127.0.0.1:7604@7704 slave {C} 0 0 3 connected
            {G} 127.0.0.1:7606@7706 master - 0 0 10 connected 0-1364 5461-6826 10923-12287
            """;

        var snapshot = _builder.Build([View(Rebalanced, MasterInfo(7605), A)], healthy, T0.AddSeconds(1));

        Assert.Equal([0, 1, 2, 3], snapshot.Groups.Select(g => g.Id));
        Assert.Equal([A, B, C, G], snapshot.Groups.Select(g => g.Master!.Id));
        var events = TopologyDiff.Compare(healthy, snapshot);
        Assert.Contains(events, e => e is { Kind: TopologyEventKind.GroupAdded, GroupId: 3, NodeId: G });
        // Only A answered here, so B and C are unconfirmed (MasterLost); what matters is that no master changed group.
        Assert.DoesNotContain(events, e => e.Kind is TopologyEventKind.MasterChanged or TopologyEventKind.GroupRemoved);
    }

    [Fact]
    public void Build_ReplicaBecomesMasterOfOtherSlots_FormerGroupKeepsItsMaster()
    {
        // D left B's group and now owns slots below B's (CLUSTER RESET + ADDSLOTS). B is still group 1's master.
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);
        const string Split = $"""
            {A} 127.0.0.1:7600@7700 myself,master - 0 0 1 connected 0-5000
            {F} 127.0.0.1:7605@7705 slave {A} 0 0 1 connected
            {D} 127.0.0.1:7603@7703 master - 0 0 11 connected 5001-5460
            {B} 127.0.0.1:7601@7701 master - 0 0 2 connected 5461-10922
            {C} 127.0.0.1:7602@7702 master - 0 0 3 connected 10923-16383
            {E} 127.0.0.1:7604@7704 slave {C} 0 0 3 connected
            """;

        var snapshot = _builder.Build([View(Split, MasterInfo(7605), A)], healthy, T0.AddSeconds(1));

        Assert.Equal(B, snapshot.GroupById(1)!.Master!.Id);
        Assert.Equal(D, snapshot.GroupById(3)!.Master!.Id);
        Assert.Equal(A, snapshot.GroupById(0)!.Master!.Id);
    }

    [Fact]
    public void Build_ManualFailoverHalfWay_PromotedReplicaWithoutSlotsDoesNotFormANewGroupAndThenLeadsTheOldOne()
    {
        // CLUSTER FAILOVER on F, caught half way: A already replicates F (its own line), F is master but
        // claims no slots yet, the other views still give A the slots. Seen in a test run: F became a new
        // group 3, took the slots on the next refresh, and group 0 (and its port) was removed.
        var healthy = _builder.Build(HealthyViews(), TopologySnapshot.Empty, T0);
        var text = CaptureFiles.ReadBulkText("cluster-nodes.healthy.resp");
        const string HalfWayOnA = $"""
            {A} 127.0.0.1:7600@7700 myself,slave {F} 0 0 1 connected
            {F} 127.0.0.1:7605@7705 master - 0 0 1 connected
            {B} 127.0.0.1:7601@7701 master - 0 0 2 connected 5461-10922
            {C} 127.0.0.1:7602@7702 master - 0 0 3 connected 10923-16383
            {D} 127.0.0.1:7603@7703 slave {B} 0 0 2 connected
            {E} 127.0.0.1:7604@7704 slave {C} 0 0 3 connected
            """;
        List<NodeView> halfWay =
        [
            View(HalfWayOnA, ReplicaInfo(7605), A),
            View(SeenBy(text, B), MasterInfo(7603), B),
            View(SeenBy(text, C), MasterInfo(7604), C),
            View(SeenBy(text, D), Info("info-replication.replica.resp"), D),
            View(SeenBy(text, E), ReplicaInfo(7602), E),
            View(SeenBy(HalfWayOnA, F), MasterInfo(7600), F),
        ];

        var during = _builder.Build(halfWay, healthy, T0.AddSeconds(1));

        Assert.Equal([0, 1, 2], during.Groups.Select(g => g.Id));
        Assert.Null(during.GroupById(0)!.RoutableMaster);

        const string Done = $"""
            {F} 127.0.0.1:7605@7705 myself,master - 0 0 7 connected 0-5460
            {A} 127.0.0.1:7600@7700 slave {F} 0 0 7 connected
            {B} 127.0.0.1:7601@7701 master - 0 0 2 connected 5461-10922
            {C} 127.0.0.1:7602@7702 master - 0 0 3 connected 10923-16383
            {D} 127.0.0.1:7603@7703 slave {B} 0 0 2 connected
            {E} 127.0.0.1:7604@7704 slave {C} 0 0 3 connected
            """;
        List<NodeView> done =
        [
            View(SeenBy(Done, A), ReplicaInfo(7605), A),
            View(SeenBy(Done, B), MasterInfo(7603), B),
            View(SeenBy(Done, C), MasterInfo(7604), C),
            View(SeenBy(Done, D), Info("info-replication.replica.resp"), D),
            View(SeenBy(Done, E), ReplicaInfo(7602), E),
            View(Done, MasterInfo(7600), F),
        ];

        var after = _builder.Build(done, during, T0.AddSeconds(2));

        Assert.Equal([0, 1, 2], after.Groups.Select(g => g.Id));
        Assert.Equal(F, after.GroupById(0)!.RoutableMaster?.Id);
        Assert.Equal([A], after.GroupById(0)!.Replicas.Select(r => r.Id));
    }

    // Healthy: every node answers; the captured view of A, the same view as seen by the others.
    private static List<NodeView> HealthyViews()
    {
        var text = CaptureFiles.ReadBulkText("cluster-nodes.healthy.resp");
        return
        [
            View(text, Info("info-replication.master.resp"), A),
            View(SeenBy(text, B), MasterInfo(7603), B),
            View(SeenBy(text, C), MasterInfo(7604), C),
            View(SeenBy(text, D), Info("info-replication.replica.resp"), D),
            View(SeenBy(text, E), ReplicaInfo(7602), E),
            View(SeenBy(text, F), ReplicaInfo(7600), F),
        ];
    }

    // ~2.9 s after A's crash: A cannot be asked, the others say master,fail? (captured on B).
    private static List<NodeView> CrashedViews()
    {
        var text = CaptureFiles.ReadBulkText("cluster-nodes.master-pfail.resp");
        return
        [
            Dead(7600),
            View(text, MasterInfo(7603), B),
            View(SeenBy(text, C), MasterInfo(7604), C),
            View(SeenBy(text, D), Info("info-replication.replica.resp"), D),
            View(SeenBy(text, E), ReplicaInfo(7602), E),
            View(SeenBy(text, F), Info("info-replication.replica.master-down.resp"), F),
        ];
    }

    // F promoted with epoch 7; A still down, marked master,fail without slots (captured on B).
    private static List<NodeView> PromotedViews()
    {
        var text = CaptureFiles.ReadBulkText("cluster-nodes.after-promotion.resp");
        return
        [
            Dead(7600),
            View(text, MasterInfo(7603), B),
            View(SeenBy(text, C), MasterInfo(7604), C),
            View(SeenBy(text, D), Info("info-replication.replica.resp"), D),
            View(SeenBy(text, E), ReplicaInfo(7602), E),
            View(SeenBy(text, F), Info("info-replication.promoted-master-no-replica.resp"), F),
        ];
    }

    // A restarted and now replicates F (captured on B; A's own INFO captured on A).
    private static List<NodeView> RejoinedViews()
    {
        var text = CaptureFiles.ReadBulkText("cluster-nodes.old-master-rejoined-as-replica.resp");
        return
        [
            View(SeenBy(text, A), Info("info-replication.old-master-now-replica.resp"), A),
            View(text, MasterInfo(7603), B),
            View(SeenBy(text, C), MasterInfo(7604), C),
            View(SeenBy(text, D), Info("info-replication.replica.resp"), D),
            View(SeenBy(text, E), ReplicaInfo(7602), E),
            View(SeenBy(text, F), MasterInfo(7600), F),
        ];
    }

    private static NodeView View(string clusterNodes, ReplicationInfo? replication, string selfId) =>
        new(new NodeEndpoint("127.0.0.1", PortById.GetValueOrDefault(selfId, 7606)), ClusterNodesParser.Parse(clusterNodes), replication, null);

    private static NodeView Dead(int port) => new(new NodeEndpoint("127.0.0.1", port), null, null, "connection refused");

    private static ReplicationInfo Info(string capture) => InfoReplicationParser.Parse(CaptureFiles.ReadBulkText(capture));

    // Literal INFO replication where no capture fits; lines end in \r\n as on the wire.
    private static ReplicationInfo MasterInfo(params int[] replicaPorts) => InfoReplicationParser.Parse(
        "# Replication\r\nrole:master\r\n" + $"connected_slaves:{replicaPorts.Length}\r\n"
        + string.Concat(replicaPorts.Select((port, i) => $"slave{i}:ip=127.0.0.1,port={port},state=online,offset=28,lag=0\r\n"))
        + "master_failover_state:no-failover\r\nmaster_repl_offset:28\r\n");

    private static ReplicationInfo ReplicaInfo(int masterPort) => InfoReplicationParser.Parse(
        $"# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:{masterPort}\r\nmaster_link_status:up\r\nmaster_last_io_seconds_ago:1\r\nslave_repl_offset:28\r\nmaster_repl_offset:28\r\n");

    /// <summary>A captured <c>CLUSTER NODES</c> as another member would print it: the <c>myself</c> flag moved to <paramref name="selfId"/>.</summary>
    private static string SeenBy(string clusterNodes, string selfId)
    {
        var lines = clusterNodes.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            var fields = line.Split(' ');
            var flags = fields[2].Split(',').Where(f => f != "myself");
            fields[2] = string.Join(',', fields[0] == selfId ? flags.Prepend("myself") : flags);
            return string.Join(' ', fields);
        });
        Assert.Contains(lines, l => l.StartsWith(selfId + " ", StringComparison.Ordinal));
        return string.Join('\n', lines) + "\n";
    }
}
