using System.Runtime.CompilerServices;

namespace ClusterGate.Core.Backends.InFlight;

/// <summary>
/// The session's reply order: commands in the order they were sent. Single producer (the holder of
/// the send lock) and single consumer (the pump; the failover paths are both while they hold the
/// send lock), so no lock: each side publishes its index with a release write and reads the other's
/// only when its cached copy says full or empty. Records are stored inline in rings; a full ring
/// links a twice larger one, so after warm-up nothing is allocated.
/// </summary>
internal sealed class PendingQueue
{
    private const int InitialCapacity = 64;

    private Segment _consumerSegment;
    private Segment _producerSegment;

    public PendingQueue()
    {
        _consumerSegment = _producerSegment = new Segment(InitialCapacity);
    }

    /// <summary>Consumer: true when no command is waiting.</summary>
    public bool IsEmpty => Unsafe.IsNullRef(ref PeekHead());

    /// <summary>Producer: appends a command.</summary>
    public void Enqueue(in PendingCommand command)
    {
        var segment = _producerSegment;
        var tail = segment.Tail.Value;
        if (tail - segment.HeadCache == segment.Items.Length)
        {
            segment.HeadCache = Volatile.Read(ref segment.Head.Value);
            if (tail - segment.HeadCache == segment.Items.Length)
            {
                var next = new Segment(segment.Items.Length * 2);
                next.Items[0] = command;
                next.Tail.Value = 1;
                Volatile.Write(ref segment.Next, next);
                _producerSegment = next;
                return;
            }
        }

        segment.Items[tail & segment.Mask] = command;
        Volatile.Write(ref segment.Tail.Value, tail + 1);
    }

    /// <summary>Consumer: the oldest command, to read or update in place; a null ref when none.</summary>
    public ref PendingCommand PeekHead()
    {
        var segment = _consumerSegment;
        var head = segment.Head.Value;
        if (head == segment.TailCache)
        {
            segment.TailCache = Volatile.Read(ref segment.Tail.Value);
            if (head == segment.TailCache)
            {
                // The producer publishes its last item here before it links the next ring.
                var next = Volatile.Read(ref segment.Next);
                if (next is null)
                {
                    return ref Unsafe.NullRef<PendingCommand>();
                }

                segment.TailCache = Volatile.Read(ref segment.Tail.Value);
                if (head == segment.TailCache)
                {
                    _consumerSegment = segment = next;
                    head = segment.Head.Value;
                    segment.TailCache = Volatile.Read(ref segment.Tail.Value);
                    if (head == segment.TailCache)
                    {
                        return ref Unsafe.NullRef<PendingCommand>();
                    }
                }
            }
        }

        return ref segment.Items[head & segment.Mask];
    }

    /// <summary>Consumer: removes the command <see cref="PeekHead"/> returned.</summary>
    public void DequeueHead()
    {
        var segment = _consumerSegment;
        var head = segment.Head.Value;
        segment.Items[head & segment.Mask] = default;
        Volatile.Write(ref segment.Head.Value, head + 1);
    }

    /// <summary>Consumer: removes and returns the oldest command.</summary>
    public bool TryDequeue(out PendingCommand command)
    {
        ref var head = ref PeekHead();
        if (Unsafe.IsNullRef(ref head))
        {
            command = default;
            return false;
        }

        command = head;
        DequeueHead();
        return true;
    }

    /// <summary>
    /// True when some command still waits for a reply from the backend (not a gateway-made one).
    /// Only while no command can be added: the caller is the consumer and holds the send lock.
    /// </summary>
    public bool AnyAwaitingBackend()
    {
        for (var segment = _consumerSegment; segment is not null; segment = Volatile.Read(ref segment.Next))
        {
            var tail = Volatile.Read(ref segment.Tail.Value);
            for (var i = segment.Head.Value; i < tail; i++)
            {
                if (segment.Items[i & segment.Mask].LocalReply is null)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private sealed class Segment
    {
        public readonly PendingCommand[] Items;
        public readonly long Mask;

        /// <summary>Next index to dequeue; written by the consumer.</summary>
        public PaddedInt64 Head;

        /// <summary>Next index to fill; written by the producer.</summary>
        public PaddedInt64 Tail;

        /// <summary>The producer's last look at <see cref="Head"/>.</summary>
        public long HeadCache;

        /// <summary>The consumer's last look at <see cref="Tail"/>.</summary>
        public long TailCache;

        public Segment? Next;

        public Segment(int capacity)
        {
            Items = new PendingCommand[capacity];
            Mask = capacity - 1;
        }
    }
}
