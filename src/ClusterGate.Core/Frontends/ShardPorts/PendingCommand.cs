using System.Buffers;

namespace ClusterGate.Core.Frontends.ShardPorts;

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
/// client's reply order. Holds a pooled copy of the request bytes, taken when it is sent, so it
/// can be replayed on a new master when Redis proves it did not run or it is read-only.
/// </summary>
internal sealed class PendingCommand
{
    private byte[]? _buffer;

    public CommandKind Kind { get; private set; }

    /// <summary>Redis flags the command read-only: safe to resend when its outcome is unknown.</summary>
    public bool IsReadOnly { get; private set; }

    /// <summary>Sent by the gateway (state replay); the reply is consumed, not forwarded.</summary>
    public bool IsInternal { get; private set; }

    /// <summary>Replies still expected (subscribe family answers once per channel).</summary>
    public int RepliesLeft { get; set; }

    /// <summary>A reply the gateway writes itself in this command's place (no backend frame).</summary>
    public byte[]? LocalReply { get; set; }

    /// <summary>Takes one credit of the session's in-flight bound.</summary>
    public bool HoldsCredit { get; private set; }

    public ReadOnlyMemory<byte> Request => _buffer is null ? default : _buffer.AsMemory(0, RequestLength);

    public int RequestLength { get; private set; }

    public void Init(in ReadOnlySequence<byte> request, CommandKind kind, bool isReadOnly, bool isInternal, int replies, bool holdsCredit, bool keepBytes)
    {
        if (keepBytes)
        {
            var length = checked((int)request.Length);
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(length, 16));
            request.CopyTo(_buffer);
            RequestLength = length;
        }
        else
        {
            _buffer = null;
            RequestLength = 0;
        }

        Kind = kind;
        IsReadOnly = isReadOnly;
        IsInternal = isInternal;
        RepliesLeft = replies;
        HoldsCredit = holdsCredit;
        LocalReply = null;
    }

    public void InitLocal(byte[] reply, bool holdsCredit)
    {
        _buffer = null;
        RequestLength = 0;
        Kind = CommandKind.Normal;
        IsReadOnly = false;
        IsInternal = false;
        RepliesLeft = 1;
        HoldsCredit = holdsCredit;
        LocalReply = reply;
    }

    public void Reset()
    {
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }

        LocalReply = null;
        RequestLength = 0;
    }
}
