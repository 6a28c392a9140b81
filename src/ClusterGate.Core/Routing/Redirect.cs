using System.Buffers;
using System.Text;
using ClusterGate.Core.Backends;

namespace ClusterGate.Core.Routing;

/// <summary>The <c>MOVED</c> and <c>ASK</c> errors Redis answers when a slot is served elsewhere.</summary>
internal static class Redirect
{
    private const int MaxSlot = HashSlot.SlotCount - 1;

    /// <summary>Longer than any <c>MOVED</c>/<c>ASK</c> line Redis writes (a hostname is at most 255 bytes).</summary>
    private const int MaxRedirectLength = 512;

    /// <summary>
    /// Reads <c>MOVED slot endpoint</c> or <c>ASK slot endpoint</c>: the error line without its leading '-' and
    /// without CRLF. Redis writes the endpoint as <c>host:port</c> with the host raw (an IPv6 address without
    /// brackets, a hostname, or empty when the node's address is unknown); a bracketed <c>[v6]:port</c> is read too.
    /// </summary>
    /// <returns>False, never an exception, when the payload is not a redirect.</returns>
    public static bool TryParse(ReadOnlySpan<byte> errorPayload, out bool isAsk, out int slot, out NodeEndpoint target)
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

    /// <inheritdoc cref="TryParse(ReadOnlySpan{byte}, out bool, out int, out NodeEndpoint)"/>
    public static bool TryParse(in ReadOnlySequence<byte> errorPayload, out bool isAsk, out int slot, out NodeEndpoint target)
    {
        if (errorPayload.IsSingleSegment)
        {
            return TryParse(errorPayload.FirstSpan, out isAsk, out slot, out target);
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
        return TryParse(copy[..(int)errorPayload.Length], out isAsk, out slot, out target);
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
}
