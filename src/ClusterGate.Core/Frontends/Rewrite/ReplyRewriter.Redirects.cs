using System.Buffers;
using System.Buffers.Text;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;

namespace ClusterGate.Core.Frontends.Rewrite;

public static partial class ReplyRewriter
{
    /// <summary>
    /// Writes <c>-MOVED slot host:port\r\n</c> or <c>-ASK slot host:port\r\n</c> in Redis's own format: the host
    /// raw, so an IPv6 address is written without brackets (clients split at the last ':').
    /// </summary>
    public static void WriteRedirect(IBufferWriter<byte> output, bool isAsk, int slot, NodeEndpoint target)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(slot, MaxSlot);
        ArgumentOutOfRangeException.ThrowIfNegative(target.Port, nameof(target));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(target.Port, ushort.MaxValue, nameof(target));
        string host = target.Host ?? string.Empty;
        if (host.AsSpan().IndexOfAnyInRange('\0', ' ') >= 0)
        {
            throw new ArgumentException("A redirect's host cannot hold spaces or control characters.", nameof(target));
        }

        output.Write(isAsk ? "-ASK "u8 : "-MOVED "u8);
        WriteNumber(output, slot);
        output.Write(" "u8);
        _ = Encoding.UTF8.GetBytes(host, output);
        output.Write(":"u8);
        WriteNumber(output, target.Port);
        output.Write("\r\n"u8);
    }

    private static void WriteNumber(IBufferWriter<byte> output, int value)
    {
        Span<byte> span = output.GetSpan(11);
        _ = Utf8Formatter.TryFormat(value, span, out int written);
        output.Advance(written);
    }
}
