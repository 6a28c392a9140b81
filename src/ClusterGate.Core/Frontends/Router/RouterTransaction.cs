using System.Buffers;
using ClusterGate.Core.Resp;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>
/// A transaction being queued: the commands between MULTI and EXEC. They are answered <c>+QUEUED</c> by the gateway
/// and sent at EXEC as one batch (MULTI, the commands, EXEC), written contiguously, so Redis runs them as one
/// transaction on a shared connection, or on the client's own connection when it watched keys.
/// </summary>
internal sealed class RouterTransaction
{
    private static readonly byte[] Multi = "*1\r\n$5\r\nMULTI\r\n"u8.ToArray();
    private static readonly byte[] Exec = "*1\r\n$4\r\nEXEC\r\n"u8.ToArray();

    private readonly ArrayBufferWriter<byte> _commands = new(256);

    public RouterTransaction() => _commands.Write(Multi);

    /// <summary>Commands queued so far.</summary>
    public int Count { get; private set; }

    /// <summary>The slot of the keys queued so far, or -1 while none had keys.</summary>
    public int Slot { get; private set; } = -1;

    /// <summary>Keys of several slots were queued: EXEC gets CROSSSLOT, as Redis Cluster answers it.</summary>
    public bool CrossSlot { get; private set; }

    /// <summary>A command was refused while queuing: EXEC gets EXECABORT, as in Redis.</summary>
    public bool Dirty { get; set; }

    /// <summary>
    /// The master of <see cref="Slot"/> when the first keyed command was queued. When another node is its master at
    /// EXEC, a failover happened during MULTI: the transaction is aborted, as a client connected to the old master
    /// would have lost it, rather than run on a master the client never queued it to.
    /// </summary>
    public string? MasterId { get; private set; }

    /// <summary>Queues a command whose keys hash to <paramref name="slot"/> (-1 for a keyless one), owned by <paramref name="masterId"/>.</summary>
    public void Queue(in ReadOnlySequence<byte> command, int slot, string? masterId)
    {
        foreach (var segment in command)
        {
            _commands.Write(segment.Span);
        }

        Count++;
        if (slot < 0)
        {
            return;
        }

        if (Slot < 0)
        {
            Slot = slot;
            MasterId = masterId;
        }
        else if (Slot != slot)
        {
            CrossSlot = true;
        }
    }

    /// <summary>MULTI, the queued commands and EXEC, as one write; its last reply is EXEC's.</summary>
    public byte[] Batch()
    {
        _commands.Write(Exec);
        return _commands.WrittenSpan.ToArray();
    }

    /// <summary>Frames Redis answers to <see cref="Batch"/>: <c>+OK</c>, one <c>+QUEUED</c> per command, EXEC's.</summary>
    public int Replies => Count + 2;
}
