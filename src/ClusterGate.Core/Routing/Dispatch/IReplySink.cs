using System.Buffers;
using ClusterGate.Core.Backends.Shared;

namespace ClusterGate.Core.Routing.Dispatch;

/// <summary>Where the reply of a routed command goes: a client's reply slot, or one part of a split command.</summary>
internal interface IReplySink
{
    /// <summary>
    /// Called once, on a backend reader (<paramref name="batch"/> is its read's batch) or from a timer or the
    /// dispatcher (no batch: write and flush now); must not block.
    /// </summary>
    void Complete(RoutedCommand request, in ReadOnlySequence<byte> reply, ReplyBatch? batch);

    /// <summary>When the command is timed for the latency metrics, when it was read from the client; else 0.</summary>
    long ReadAt => 0;
}
