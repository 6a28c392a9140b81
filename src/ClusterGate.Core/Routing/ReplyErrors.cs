using System.Buffers;

namespace ClusterGate.Core.Routing;

/// <summary>The errors that say where a command should have gone, or that it should wait.</summary>
internal enum ErrorKind
{
    Other,
    Moved,
    Ask,
    ReadOnly,
    MasterDown,
    ClusterDown,
    TryAgain,
    Loading,
}

/// <summary>Classifies an error reply by its first bytes, without materializing it.</summary>
internal static class ReplyErrors
{
    public static ErrorKind Classify(in ReadOnlySequence<byte> frame)
    {
        if (frame.IsSingleSegment)
        {
            return Classify(frame.FirstSpan);
        }

        Span<byte> head = stackalloc byte[16];
        var length = (int)Math.Min(frame.Length, head.Length);
        frame.Slice(0, length).CopyTo(head);
        return Classify(head[..length]);
    }

    public static ErrorKind Classify(ReadOnlySpan<byte> head) =>
        head switch
        {
            _ when StartsWith(head, "-MOVED "u8) => ErrorKind.Moved,
            _ when StartsWith(head, "-ASK "u8) => ErrorKind.Ask,
            _ when StartsWith(head, "-READONLY"u8) => ErrorKind.ReadOnly,
            _ when StartsWith(head, "-MASTERDOWN"u8) => ErrorKind.MasterDown,
            _ when StartsWith(head, "-CLUSTERDOWN"u8) => ErrorKind.ClusterDown,
            _ when StartsWith(head, "-TRYAGAIN"u8) => ErrorKind.TryAgain,
            _ when StartsWith(head, "-LOADING"u8) => ErrorKind.Loading,
            _ => ErrorKind.Other,
        };

    private static bool StartsWith(ReadOnlySpan<byte> span, ReadOnlySpan<byte> prefix) =>
        span.Length >= prefix.Length && span[..prefix.Length].SequenceEqual(prefix);
}
