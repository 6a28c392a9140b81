using System.Buffers;
using System.Collections.Immutable;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Backends.Shared;
using ClusterGate.Core.Routing.Dispatch;
using ClusterGate.Core.Topology;

namespace ClusterGate.Core.UnitTests.Routing.Dispatch;

/// <summary>Topology snapshots built directly from records, and routed commands that go nowhere.</summary>
internal static class DispatchTestData
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 21, 10, 0, 0, TimeSpan.Zero);

    public static NodeState Master(string id, int port, bool down = false) => Node(id, port, isMaster: true, down, masterId: null);

    public static NodeState Replica(string id, int port, string masterId, bool down = false) => Node(id, port, isMaster: false, down, masterId);

    public static ShardGroup Group(int id, NodeState? master, int firstSlot, int lastSlot, bool confirmed = true, params NodeState[] replicas) => new()
    {
        Id = id,
        Master = master,
        MasterConfirmed = confirmed,
        Replicas = [.. replicas],
        Slots = [new SlotRange(firstSlot, lastSlot)],
    };

    /// <summary>A snapshot of <paramref name="groups"/>; its nodes are the groups' nodes plus <paramref name="others"/>.</summary>
    public static TopologySnapshot Snapshot(long version, ShardGroup[] groups, params NodeState[] others)
    {
        var nodes = groups
            .SelectMany(g => (g.Master is { } m ? new[] { m } : []).Concat(g.Replicas))
            .Concat(others)
            .ToImmutableArray();
        return new TopologySnapshot(version, T0, [.. groups], nodes, []);
    }

    public static RoutedCommand Command(int slot, long sessionId = 0, bool readOnly = false) =>
        new("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"u8, slot, readOnly, sessionId, NullSink.Instance);

    public static ReadOnlySequence<byte> Reply(string text) => new(System.Text.Encoding.ASCII.GetBytes(text));

    private static NodeState Node(string id, int port, bool isMaster, bool down, string? masterId) => new()
    {
        Id = id,
        Announced = new NodeEndpoint("10.0.0.1", port),
        Connect = new NodeEndpoint("127.0.0.1", port),
        IsMaster = isMaster,
        MasterId = masterId,
        IsDown = down,
        Reachable = !down,
    };

    private sealed class NullSink : IReplySink
    {
        public static readonly NullSink Instance = new();

        public void Complete(RoutedCommand request, in ReadOnlySequence<byte> reply, ReplyBatch? batch)
        {
        }
    }
}
