using System.Buffers;

namespace ClusterGate.Core.Resp;

/// <summary>Frames a server sends that answer no command, told apart by their first bytes.</summary>
internal static class RespPushes
{
    /// <summary>
    /// True for frames that answer no command: pub/sub messages (RESP2 arrays while subscribed, RESP3
    /// pushes) and other RESP3 pushes such as client-tracking invalidations.
    /// </summary>
    public static bool IsUnsolicited(in ReadOnlySequence<byte> frame, bool subscribed)
    {
        var type = frame.FirstSpan[0];
        if (type != (byte)'>' && !(type == (byte)'*' && subscribed))
        {
            return false;
        }

        Span<byte> head = stackalloc byte[32];
        var length = (int)Math.Min(frame.Length, head.Length);
        frame.Slice(0, length).CopyTo(head);
        head = head[..length];

        // "*3\r\n$7\r\nmessage\r\n..." : skip the aggregate header, read the first bulk's payload.
        var firstLine = head.IndexOf((byte)'\n');
        if (firstLine < 0 || firstLine + 1 >= head.Length || (head[firstLine + 1] != (byte)'$' && head[firstLine + 1] != (byte)'+'))
        {
            return type == (byte)'>';
        }

        var rest = head[(firstLine + 1)..];
        var secondLine = rest.IndexOf((byte)'\n');
        if (secondLine < 0)
        {
            return type == (byte)'>';
        }

        var name = rest[(secondLine + 1)..];
        if (rest[0] == (byte)'+')
        {
            name = rest[1..];
        }

        // A subscribe-family confirmation answers the command; everything else is a message.
        var isConfirmation = StartsWith(name, "subscribe\r"u8) || StartsWith(name, "unsubscribe\r"u8)
            || StartsWith(name, "psubscribe\r"u8) || StartsWith(name, "punsubscribe\r"u8)
            || StartsWith(name, "ssubscribe\r"u8) || StartsWith(name, "sunsubscribe\r"u8)
            || StartsWith(name, "pong\r"u8);
        if (type == (byte)'>')
        {
            return !isConfirmation;
        }

        return StartsWith(name, "message\r"u8) || StartsWith(name, "pmessage\r"u8) || StartsWith(name, "smessage\r"u8);
    }

    private static bool StartsWith(ReadOnlySpan<byte> span, ReadOnlySpan<byte> prefix) =>
        span.Length >= prefix.Length && span[..prefix.Length].SequenceEqual(prefix);
}
