namespace ClusterGate.Core.Backends.InFlight;

/// <summary>
/// The session's log of request copies kept for a resend or a state replay: a byte ring filled in
/// send order by the producer (the holder of the send lock) and released in reply order by the pump.
/// Replies come in send order, so a release is one position, and a command costs a copy, not a
/// pooled array. A copy that does not fit goes to the caller's fallback; the ring grows for later ones.
/// The pump publishes its releases once per batch, and the producer looks at them only when the ring
/// seems full, so the two cores do not trade a cache line per command.
/// </summary>
internal sealed class RequestArena
{
    private const int InitialCapacity = 4 * 1024;
    private const int MaxCapacity = 256 * 1024;

    // Producer side.
    private byte[] _buffer = [];

    /// <summary>Ring position after the last copy (monotonic; skipped tails count).</summary>
    private long _allocated;

    /// <summary>The producer's last look at <see cref="_published"/>.</summary>
    private long _releasedSeen;

    private bool _wantsGrowth;

    /// <summary>Consumer side: released up to here, not yet published.</summary>
    private PaddedInt64 _released;

    /// <summary>Released up to here, as the producer may see it.</summary>
    private PaddedInt64 _published;

    /// <summary>
    /// Producer: copies <paramref name="request"/> into the ring. False when it does not fit now;
    /// the caller keeps it elsewhere.
    /// </summary>
    public bool TryAdd(ReadOnlySpan<byte> request, out byte[] buffer, out int offset, out long end)
    {
        var capacity = _buffer.Length;
        if (capacity == 0 || (_wantsGrowth && capacity < MaxCapacity))
        {
            // Entries keep a reference to their own array: a new ring may start while older copies
            // live in the old one, which only count against the new ring's room until released.
            _buffer = new byte[capacity == 0 ? InitialCapacity : capacity * 2];
            capacity = _buffer.Length;
            _wantsGrowth = false;
        }

        var length = request.Length;
        var start = _allocated;
        var position = (int)(start & (capacity - 1));
        if (position + length > capacity)
        {
            start += capacity - position;
            position = 0;
        }

        end = start + length;
        if (end - _releasedSeen > capacity)
        {
            _releasedSeen = Volatile.Read(ref _published.Value);
        }

        if (length > capacity / 4 || end - _releasedSeen > capacity)
        {
            _wantsGrowth = length <= MaxCapacity / 4;
            buffer = _buffer;
            offset = 0;
            end = 0;
            return false;
        }

        request.CopyTo(_buffer.AsSpan(position, length));
        _allocated = end;
        buffer = _buffer;
        offset = position;
        return true;
    }

    /// <summary>Consumer: the copy ending at <paramref name="end"/> and every earlier one are no longer needed.</summary>
    public void Release(long end)
    {
        if (end > _released.Value)
        {
            _released.Value = end;
        }
    }

    /// <summary>Consumer: makes the releases so far visible to the producer.</summary>
    public void Publish()
    {
        if (_released.Value != _published.Value)
        {
            Volatile.Write(ref _published.Value, _released.Value);
        }
    }
}
