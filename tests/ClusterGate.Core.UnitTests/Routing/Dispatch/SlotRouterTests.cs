using ClusterGate.Core.Backends;
using ClusterGate.Core.Routing.Dispatch;
using ClusterGate.Core.Topology;
using Xunit;
using static ClusterGate.Core.UnitTests.Routing.Dispatch.DispatchTestData;

namespace ClusterGate.Core.UnitTests.Routing.Dispatch;

public sealed class SlotRouterTests
{
    private static readonly NodeState A = Master("A", 7000);
    private static readonly NodeState B = Master("B", 7001);
    private static readonly NodeState C = Master("C", 7002);
    private static readonly NodeState F = Replica("F", 7005, "A");

    private readonly SlotRouter _router = new();

    /// <summary>A 0-5460 (replica F), B 5461-10922, C 10923-16383, all confirmed.</summary>
    private static TopologySnapshot Healthy(long version = 1) => Snapshot(version, [Group(0, A, 0, 5460, replicas: F), Group(1, B, 5461, 10922), Group(2, C, 10923, 16383)]);

    /// <summary>A crashed and F was promoted: A is a down replica of group 0.</summary>
    private static TopologySnapshot AfterFailover(long version = 2) => Snapshot(
        version,
        [Group(0, Promoted, 0, 5460, replicas: Replica("A", 7000, "F", down: true)), Group(1, B, 5461, 10922), Group(2, C, 10923, 16383)]);

    /// <summary>A crashed, F promoted, and A no longer in the topology at all.</summary>
    private static TopologySnapshot AfterFailoverAGone(long version = 2) => Snapshot(version, [Group(0, Promoted, 0, 5460), Group(1, B, 5461, 10922), Group(2, C, 10923, 16383)]);

    private static NodeState Promoted => Master("F", 7005);

    [Theory]
    [InlineData(0, "A")]
    [InlineData(5460, "A")]
    [InlineData(5461, "B")]
    [InlineData(10922, "B")]
    [InlineData(10923, "C")]
    [InlineData(16383, "C")]
    public void Choose_SlotOfConfirmedGroup_ItsMasterAndCacheable(int slot, string expected)
    {
        var master = _router.Choose(Healthy(), Command(slot), out var cacheable);

        Assert.Equal(expected, master?.Id);
        Assert.True(cacheable);
    }

    [Fact]
    public void Choose_SlotOfGroupWithoutConfirmedMaster_Null()
    {
        var snapshot = Snapshot(1, [Group(0, A, 0, 5460, confirmed: false), Group(1, B, 5461, 16383)]);

        Assert.Null(_router.Choose(snapshot, Command(100), out _));
    }

    [Fact]
    public void Choose_SlotNobodyServes_Null()
    {
        var snapshot = Snapshot(1, [Group(0, A, 0, 5460)]);

        Assert.Null(_router.Choose(snapshot, Command(9000), out _));
    }

    [Fact]
    public void Choose_MovedInThisSnapshotVersion_NamedNodeNotCacheable()
    {
        var snapshot = Healthy(version: 7);
        _router.Moved(100, "B", 7);

        var master = _router.Choose(snapshot, Command(100), out var cacheable);

        Assert.Same(B, master);
        Assert.False(cacheable);
        Assert.True(_router.IsMoved(100, 7));
    }

    [Fact]
    public void Choose_MovedInAnOlderSnapshotVersion_SlotTableWins()
    {
        _router.Moved(100, "B", 7);

        var master = _router.Choose(Healthy(version: 8), Command(100), out var cacheable);

        Assert.Same(A, master);
        Assert.True(cacheable);
        Assert.False(_router.IsMoved(100, 8));
    }

    [Fact]
    public void Choose_MovedForAnotherSlot_SlotTableWins()
    {
        _router.Moved(101, "B", 1);

        Assert.Same(A, _router.Choose(Healthy(), Command(100), out _));
        Assert.False(_router.IsMoved(100, 1));
    }

    [Fact]
    public void Choose_MovedToNodeNotInSnapshot_SlotTableMaster()
    {
        _router.Moved(100, "X", 1);

        var master = _router.Choose(Healthy(), Command(100), out var cacheable);

        Assert.Same(A, master);
        Assert.False(cacheable);
    }

    [Fact]
    public void Moved_SameSlotAgain_LatestWins()
    {
        _router.Moved(100, "B", 1);
        _router.Moved(100, "C", 1);

        Assert.Same(C, _router.Choose(Healthy(), Command(100), out _));
    }

    [Fact]
    public void Choose_NamedNodeUpMaster_ThatNodeNotCacheable()
    {
        var request = Command(slot: -1);
        request.TargetNodeId = "B";

        var master = _router.Choose(Healthy(), request, out var cacheable);

        Assert.Same(B, master);
        Assert.False(cacheable);
        Assert.Equal("B", request.TargetNodeId);
    }

    [Fact]
    public void Choose_NamedNodeOverridesSlotTable_NamedNode()
    {
        // A redirect target: the slot is in A's range, but MOVED named C.
        var request = Command(slot: 100);
        request.TargetNodeId = "C";

        Assert.Same(C, _router.Choose(Healthy(), request, out _));
    }

    [Fact]
    public void Choose_NamedNodeDownInItsGroup_GroupsMasterTakesItsPlace()
    {
        var request = Command(slot: -1);
        request.TargetNodeId = "A";

        var master = _router.Choose(AfterFailover(), request, out var cacheable);

        Assert.Equal("F", master?.Id);
        Assert.Equal("F", request.TargetNodeId);
        Assert.False(cacheable);
    }

    [Fact]
    public void Choose_NamedNodeGoneWithItsGroupId_ThatGroupsMaster()
    {
        var request = Command(slot: -1);
        request.TargetNodeId = "A";
        request.TargetGroupId = 0;

        var master = _router.Choose(AfterFailoverAGone(), request, out _);

        Assert.Equal("F", master?.Id);
        Assert.Equal("F", request.TargetNodeId);
    }

    [Fact]
    public void Choose_NamedNodeGoneWithSlot_SlotTablesMaster()
    {
        var request = Command(slot: 6000);
        request.TargetNodeId = "A";

        var master = _router.Choose(AfterFailoverAGone(), request, out _);

        Assert.Same(B, master);
        Assert.Equal("B", request.TargetNodeId);
    }

    [Fact]
    public void Choose_NamedNodeGoneKeylessWithoutGroup_NullAndTargetKept()
    {
        var request = Command(slot: -1);
        request.TargetNodeId = "A";

        Assert.Null(_router.Choose(AfterFailoverAGone(), request, out _));
        Assert.Equal("A", request.TargetNodeId);
    }

    [Fact]
    public void Choose_NamedNodeDownAndNoMasterForItsSlot_NullAndSlotTableNextTime()
    {
        var snapshot = Snapshot(2, [Group(0, Master("A", 7000, down: true), 0, 5460, confirmed: false), Group(1, B, 5461, 16383)]);
        var request = Command(slot: 100);
        request.TargetNodeId = "A";

        Assert.Null(_router.Choose(snapshot, request, out _));
        Assert.Null(request.TargetNodeId);
    }

    [Fact]
    public void Choose_NamedReplicaForKeylessPart_ItsGroupsMaster()
    {
        var request = Command(slot: -1);
        request.TargetNodeId = "F";

        Assert.Same(A, _router.Choose(Healthy(), request, out _));
        Assert.Equal("A", request.TargetNodeId);
    }

    [Theory]
    [InlineData(0L, "A")]
    [InlineData(1L, "B")]
    [InlineData(2L, "C")]
    [InlineData(3L, "A")]
    [InlineData(3001L, "B")]
    public void Choose_Keyless_MasterChosenBySessionId(long sessionId, string expected)
    {
        var master = _router.Choose(Healthy(), Command(slot: -1, sessionId), out var cacheable);

        Assert.Equal(expected, master?.Id);
        Assert.False(cacheable);
    }

    [Fact]
    public void Choose_KeylessSameSession_SameMasterEveryTime()
    {
        var snapshot = Healthy();
        var first = _router.Choose(snapshot, Command(slot: -1, sessionId: 41), out _);

        for (var i = 0; i < 10; i++)
        {
            Assert.Same(first, _router.Choose(snapshot, Command(slot: -1, sessionId: 41), out _));
        }
    }

    [Fact]
    public void Choose_KeylessSessionsGroupWithoutMaster_NextGroupsMaster()
    {
        var snapshot = Snapshot(1, [Group(0, A, 0, 5460), Group(1, B, 5461, 10922, confirmed: false), Group(2, C, 10923, 16383)]);

        Assert.Same(C, _router.Choose(snapshot, Command(slot: -1, sessionId: 1), out _));
    }

    [Fact]
    public void Choose_KeylessNoConfirmedMasterAnywhere_Null()
    {
        var snapshot = Snapshot(1, [Group(0, A, 0, 8191, confirmed: false), Group(1, B, 8192, 16383, confirmed: false)]);

        Assert.Null(_router.Choose(snapshot, Command(slot: -1, sessionId: 5), out _));
    }

    [Fact]
    public void FindByAnnounced_KnownAndUnknownAddress_NodeOrNull()
    {
        var snapshot = Healthy();

        Assert.Same(F, SlotRouter.FindByAnnounced(snapshot, new NodeEndpoint("10.0.0.1", 7005)));
        Assert.Null(SlotRouter.FindByAnnounced(snapshot, new NodeEndpoint("127.0.0.1", 7005)));
    }
}
