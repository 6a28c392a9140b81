namespace ClusterGate.Core.Backends.InFlight;

/// <summary>What the relay must do with a command's reply besides forwarding it.</summary>
internal enum CommandKind : byte
{
    Normal,
    Auth,
    Hello,
    Select,
    ClientSetName,
    ReadOnly,
    ReadWrite,
    Subscribe,
    PSubscribe,
    SSubscribe,
    Unsubscribe,
    PUnsubscribe,
    SUnsubscribe,
    Multi,
    Exec,
    Discard,
    ClusterNodes,
    ClusterSlots,
    ClusterShards,
    Monitor,
    Quit,
    Reset,
}

/// <summary>
/// A command sent to the backend (or answered by the gateway itself) awaiting its place in the
/// client's reply order: a plain record in the session's <see cref="PendingQueue"/>, so nothing is
/// allocated or pooled per command. Where the request bytes can be needed again (a resend when it is
/// read-only, or state replay), it points at a copy in the session's <see cref="RequestArena"/> (or,
/// when that is full, a pooled array), taken when it is sent.
/// </summary>
internal struct PendingCommand
{
    /// <summary>Where the kept copy of the request lives; null when it was not kept.</summary>
    public byte[]? Bytes;

    /// <summary>A reply the gateway writes itself in this command's place (no backend frame).</summary>
    public byte[]? LocalReply;

    public int Offset;

    public int Length;

    /// <summary>The arena position just past this command's copy, to release it; 0 when not in the arena.</summary>
    public long ArenaEnd;

    /// <summary>Replies still expected (subscribe family answers once per channel).</summary>
    public int RepliesLeft;

    public CommandKind Kind;

    public PendingFlags Flags;

    /// <summary>A sampled command's read from the client (<see cref="System.Diagnostics.Stopwatch"/> timestamp); 0 when not timed.</summary>
    public long ReadAt;

    /// <summary>A sampled command's hand-over to the backend connection.</summary>
    public long SentAt;

    /// <summary>Redis flags the command read-only: safe to resend when its outcome is unknown.</summary>
    public readonly bool IsReadOnly => (Flags & PendingFlags.ReadOnly) != 0;

    /// <summary>Sent by the gateway (state replay); the reply is consumed, not forwarded.</summary>
    public readonly bool IsInternal => (Flags & PendingFlags.Internal) != 0;

    /// <summary>Takes one credit of the session's in-flight bound.</summary>
    public readonly bool HoldsCredit => (Flags & PendingFlags.HoldsCredit) != 0;

    public readonly ReadOnlySpan<byte> Request => Bytes is null ? default : Bytes.AsSpan(Offset, Length);

    public static PendingCommand Local(byte[] reply) => new()
    {
        LocalReply = reply,
        RepliesLeft = 1,
        Flags = PendingFlags.HoldsCredit,
    };
}

[Flags]
internal enum PendingFlags : byte
{
    None = 0,
    ReadOnly = 1,
    Internal = 2,
    HoldsCredit = 4,

    /// <summary><see cref="PendingCommand.Bytes"/> was rented from the shared pool and goes back to it.</summary>
    Pooled = 8,
}
