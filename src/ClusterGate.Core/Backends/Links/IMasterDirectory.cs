using System.IO.Pipelines;

namespace ClusterGate.Core.Backends.Links;

/// <summary>A group's confirmed master: its node id and where the gateway reaches it.</summary>
internal readonly record struct MasterAddress(string NodeId, NodeEndpoint Connect);

/// <summary>
/// Where a <see cref="MasterLink"/> learns who its group's master is and that it changed (the topology, seen through
/// an adapter so that Backends does not depend on Topology).
/// </summary>
internal interface IMasterDirectory
{
    /// <summary>Version of the view the answers come from; grows with every new view.</summary>
    long Version { get; }

    /// <summary>The group's confirmed master now, or null while it has none; <paramref name="version"/> is the view's.</summary>
    MasterAddress? ConfirmedMaster(int groupId, out long version);

    /// <summary>Whether the view shows the node down, or does not know it any more.</summary>
    bool IsDownOrGone(string nodeId);

    /// <summary>Completes when the next view is published.</summary>
    Task NextChangeAsync(CancellationToken cancellationToken);

    /// <summary>Asks for a fresh view soon (coalesced with other requests).</summary>
    void RequestRefresh(string reason);
}

/// <summary>The frontend side of a link: where replies go.</summary>
internal interface ILinkClient
{
    /// <summary>The client's output: the pump writes replies here and flushes once per batch.</summary>
    PipeWriter Output { get; }

    /// <summary>
    /// A reply that may need more than forwarding: an error (a redirect to rewrite, or a sign the master changed:
    /// the client may call <see cref="MasterLink.RequestMove"/>), or the reply to <c>CLUSTER NODES/SLOTS/SHARDS</c>.
    /// Writes it to <see cref="Output"/> one way or another.
    /// </summary>
    void WriteReply(InFlight.CommandKind kind, bool isError, in System.Buffers.ReadOnlySequence<byte> frame);

    /// <summary>An error reply the gateway wrote itself in a command's place (no master, outcome unknown), for the metrics.</summary>
    void OnLocalError(ReadOnlySpan<byte> reply)
    {
    }
}
