using System.Buffers;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Backends.Shared;
using ClusterGate.Core.Routing.Dispatch;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>
/// One reply in a client's order. Filled out of order (by whichever backend answers), written in order
/// by the session's writer.
/// </summary>
internal sealed class ReplySlot : IReplySink
{
    private readonly RouterSession _session;
    private byte[]? _buffer;
    private int _length;
    private volatile bool _done;

    public ReplySlot(RouterSession session)
    {
        _session = session;
    }

    public bool IsDone => _done;

    /// <summary>Close the client connection after this reply (QUIT).</summary>
    public bool CloseAfter { get; set; }

    /// <summary>The client turned this reply off (CLIENT REPLY OFF / SKIP): it keeps its place but is not written.</summary>
    public bool Dropped { get; set; }

    public ReadOnlySpan<byte> Reply => _buffer.AsSpan(0, _length);

    public int Length => _length;

    /// <summary>Timed for the latency metrics (one command in a sampled read): when it was read; else 0.</summary>
    public long ReadAt { get; set; }

    /// <summary>A timed command's request written to its backend connection, and its reply read from it.</summary>
    public long SentAt { get; private set; }

    public long RepliedAt { get; private set; }

    /// <summary>The group a timed command went to, when it went to one.</summary>
    public Observability.GroupStats? Group { get; private set; }

    public void Complete(RoutedCommand request, in ReadOnlySequence<byte> reply, ReplyBatch? batch)
    {
        if (ReadAt != 0)
        {
            SentAt = request.SentAt;
            Group = request.SentTo;
            RepliedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        }

        // Next in the client's order and nobody writing: straight from the backend's buffer to the client.
        // A client that left gets nothing; the reply is not even copied.
        if (_session.IsClosed || _session.TryWriteNow(this, reply, batch))
        {
            _session.OnSlotDone();
        }
        else
        {
            SetReply(reply, batch);
        }

        request.Release();
    }

    /// <summary>Keeps a copy of the reply until the session's writer gets to it (flushed with <paramref name="batch"/>, or now).</summary>
    public void SetReply(in ReadOnlySequence<byte> reply, ReplyBatch? batch)
    {
        var length = checked((int)reply.Length);
        _buffer = PooledBytes.Take(length);
        reply.CopyTo(_buffer);
        _length = length;
        _done = true;
        _session.OnSlotDone();
        _session.OnReplyBuffered(length);
        _session.OnReplyReady(this, batch);
    }

    public void SetReply(byte[] reply, ReplyBatch? batch) => SetReply(new ReadOnlySequence<byte>(reply), batch);

    public void Return()
    {
        if (_buffer is not null)
        {
            PooledBytes.Give(_buffer);
            _buffer = null;
        }
    }
}
