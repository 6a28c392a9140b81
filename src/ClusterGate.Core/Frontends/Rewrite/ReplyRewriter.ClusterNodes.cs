using System.Globalization;
using System.Text;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Topology;

namespace ClusterGate.Core.Frontends.Rewrite;

public static partial class ReplyRewriter
{
    /// <summary>
    /// Rewrites <c>CLUSTER NODES</c>: a bulk string (RESP2) or <c>txt:</c> verbatim string (RESP3), one node per
    /// line, each ending in <c>\n</c>. The result has the same type.
    /// </summary>
    /// <remarks>
    /// Per line the map gets the node id and the announced endpoint (the IP, or the hostname when the IP is empty).
    /// Null drops the line. Otherwise only the address field changes, to <c>host:port@port</c>: the bus port
    /// becomes the gateway port too (clients ignore it, but it is a real node's port and must not leak) and the
    /// <c>,hostname</c> and <c>,key=value</c> fields after it are dropped, since they would name the real node. Flags (with <c>myself</c>), master id, epochs, link state, slots and migration
    /// markers are copied as they are. Lines that do not parse are dropped, not forwarded, so a line we cannot read
    /// cannot leak an address. A reply of another type is returned unchanged.
    /// </remarks>
    public static RespValue RewriteClusterNodes(RespValue reply, GatewayAddressMap map)
    {
        ArgumentNullException.ThrowIfNull(reply);
        ArgumentNullException.ThrowIfNull(map);
        if (reply.IsNull)
        {
            return reply;
        }

        ReadOnlySpan<byte> payload = reply.Bytes.Span;
        string? verbatimFormat = null;
        if (reply.Type == RespType.Verbatim)
        {
            if (payload.Length < 4 || payload[3] != ':')
            {
                return reply;
            }

            verbatimFormat = Encoding.UTF8.GetString(payload[..3]);
            payload = payload[4..];
        }
        else if (reply.Type != RespType.BulkString)
        {
            return reply;
        }

        var output = new StringBuilder(payload.Length);
        foreach (string line in Encoding.UTF8.GetString(payload).Split('\n'))
        {
            if (TryRewriteNodeLine(line, map, output))
            {
                _ = output.Append('\n');
            }
        }

        string text = output.ToString();
        RespValue rewritten = verbatimFormat is null ? RespValue.Bulk(text) : RespValue.Verbatim(verbatimFormat, text);
        return rewritten.WithAttributeOf(reply);
    }

    /// <summary>Appends the rewritten line (without its <c>\n</c>); false when the line is dropped.</summary>
    private static bool TryRewriteNodeLine(string line, GatewayAddressMap map, StringBuilder output)
    {
        if (!ClusterNodesParser.TryParseLine(line, out ClusterNodeInfo? node)
            || map(node.Id, node.Endpoint) is not { } gateway
            || !TryFindSecondField(line, out int addressStart, out int addressEnd))
        {
            return false;
        }

        // The parser accepted the address, so it is "ip:port[@cport][,hostname][,aux...]".
        ReadOnlySpan<char> address = line.AsSpan(addressStart, addressEnd - addressStart);
        int comma = address.IndexOf(',');
        ReadOnlySpan<char> endpoint = comma < 0 ? address : address[..comma];
        bool hasBusPort = endpoint.Contains('@');
        string port = gateway.Port.ToString(CultureInfo.InvariantCulture);

        _ = output.Append(line.AsSpan(0, addressStart))
            .Append(gateway.Host)
            .Append(':')
            .Append(port);
        if (hasBusPort)
        {
            _ = output.Append('@').Append(port);
        }

        _ = output.Append(line.AsSpan(addressEnd));
        return true;
    }

    /// <summary>Where the address (the second field) is, with the same separators as <see cref="ClusterNodesParser"/>.</summary>
    private static bool TryFindSecondField(string line, out int start, out int end)
    {
        ReadOnlySpan<char> separators = [' ', '\t', '\r'];
        start = 0;
        end = 0;
        int idStart = line.AsSpan().IndexOfAnyExcept(separators);
        if (idStart < 0)
        {
            return false;
        }

        int idEnd = line.AsSpan(idStart).IndexOfAny(separators);
        if (idEnd < 0)
        {
            return false;
        }

        idEnd += idStart;
        int gap = line.AsSpan(idEnd).IndexOfAnyExcept(separators);
        if (gap < 0)
        {
            return false;
        }

        start = idEnd + gap;
        int length = line.AsSpan(start).IndexOfAny(separators);
        end = length < 0 ? line.Length : start + length;
        return true;
    }
}
