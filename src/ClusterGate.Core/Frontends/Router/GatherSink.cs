using System.Buffers;
using ClusterGate.Core.Backends.Shared;
using ClusterGate.Core.Routing.Dispatch;
using ClusterGate.Core.Resp;
namespace ClusterGate.Core.Frontends.Router;

/// <summary>
/// Collects the replies of the parts of a split or fanned-out command and, when the last one is in,
/// writes the combined reply into the client's slot.
/// </summary>
internal sealed class GatherSink
{
    private readonly ReplySlot _slot;
    private readonly byte[]?[] _parts;
    private readonly Func<byte[][], byte[]> _combine;
    private int _remaining;

    public GatherSink(ReplySlot slot, int parts, Func<byte[][], byte[]> combine)
    {
        _slot = slot;
        _parts = new byte[parts][];
        _combine = combine;
        _remaining = parts;
    }

    /// <summary>The part a request answers is set by <see cref="Part"/>.</summary>
    public IReplySink Part(int index) => new PartSink(this, index);

    private void SetPart(int index, in ReadOnlySequence<byte> reply, ReplyBatch? batch)
    {
        _parts[index] = reply.ToArray();
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            byte[] combined;
            try
            {
                combined = _combine(_parts!);
            }
            catch (Exception ex) when (ex is InvalidDataException or FormatException or InvalidOperationException)
            {
                combined = GatewayReplies.MergeFailed(ex.Message);
            }

            _slot.SetReply(combined, batch);
        }
    }

    private sealed class PartSink(GatherSink owner, int index) : IReplySink
    {
        public void Complete(RoutedCommand request, in ReadOnlySequence<byte> reply, ReplyBatch? batch)
        {
            owner.SetPart(index, reply, batch);
            request.Release();
        }
    }
}
