using System.Buffers;
using System.Buffers.Text;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;

namespace ClusterGate.Core.Frontends.Rewrite;

public static partial class ReplyRewriter
{
    /// <summary>Longer than any <c>MOVED</c>/<c>ASK</c> line Redis writes (a hostname is at most 255 bytes).</summary>
    private const int MaxRedirectLength = 512;

    /// <summary>
    /// Reads <c>MOVED slot endpoint</c> or <c>ASK slot endpoint</c>: the error line without its leading '-' and
    /// without CRLF. Redis writes the endpoint as <c>host:port</c> with the host raw (an IPv6 address without
    /// brackets, a hostname, or empty when the node's address is unknown); a bracketed <c>[v6]:port</c> is read too.
    /// </summary>
    /// <returns>False, never an exception, when the payload is not a redirect.</returns>
    public static bool TryParseRedirect(ReadOnlySpan<byte> errorPayload, out bool isAsk, out int slot, out NodeEndpoint target)
    {
        isAsk = false;
        slot = 0;
        target = default;

        ReadOnlySpan<byte> rest;
        if (errorPayload.StartsWith("MOVED "u8))
        {
            rest = errorPayload["MOVED "u8.Length..];
        }
        else if (errorPayload.StartsWith("ASK "u8))
        {
            isAsk = true;
            rest = errorPayload["ASK "u8.Length..];
        }
        else
        {
            return false;
        }

        int space = rest.IndexOf((byte)' ');
        if (space <= 0 || !TryParseDigits(rest[..space], MaxSlot, out slot))
        {
            return false;
        }

        ReadOnlySpan<byte> endpoint = rest[(space + 1)..];
        ReadOnlySpan<byte> host;
        ReadOnlySpan<byte> port;
        if (endpoint.StartsWith("["u8))
        {
            int close = endpoint.IndexOf((byte)']');
            if (close < 0 || close + 1 >= endpoint.Length || endpoint[close + 1] != ':')
            {
                return false;
            }

            host = endpoint[1..close];
            port = endpoint[(close + 2)..];
        }
        else
        {
            int colon = endpoint.LastIndexOf((byte)':');
            if (colon < 0)
            {
                return false;
            }

            host = endpoint[..colon];
            port = endpoint[(colon + 1)..];
        }

        // Spaces and control bytes cannot be in a host, and Redis adds nothing after the endpoint.
        if (host.IndexOfAnyInRange((byte)0, (byte)' ') >= 0 || host.Contains((byte)0x7F)
            || !TryParseDigits(port, ushort.MaxValue, out int portNumber) || portNumber == 0)
        {
            return false;
        }

        target = new NodeEndpoint(Encoding.UTF8.GetString(host), portNumber);
        return true;
    }

    /// <inheritdoc cref="TryParseRedirect(ReadOnlySpan{byte}, out bool, out int, out NodeEndpoint)"/>
    public static bool TryParseRedirect(in ReadOnlySequence<byte> errorPayload, out bool isAsk, out int slot, out NodeEndpoint target)
    {
        if (errorPayload.IsSingleSegment)
        {
            return TryParseRedirect(errorPayload.FirstSpan, out isAsk, out slot, out target);
        }

        if (errorPayload.Length > MaxRedirectLength)
        {
            isAsk = false;
            slot = 0;
            target = default;
            return false;
        }

        Span<byte> copy = stackalloc byte[MaxRedirectLength];
        errorPayload.CopyTo(copy);
        return TryParseRedirect(copy[..(int)errorPayload.Length], out isAsk, out slot, out target);
    }

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

    /// <summary>1 to 5 ASCII digits, no sign, at most <paramref name="max"/>.</summary>
    private static bool TryParseDigits(ReadOnlySpan<byte> text, int max, out int value)
    {
        value = 0;
        if (text.IsEmpty || text.Length > 5)
        {
            return false;
        }

        foreach (byte b in text)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            value = (value * 10) + (b - '0');
        }

        return value <= max;
    }

    private static void WriteNumber(IBufferWriter<byte> output, int value)
    {
        Span<byte> span = output.GetSpan(11);
        _ = Utf8Formatter.TryFormat(value, span, out int written);
        output.Advance(written);
    }
}
