using ClusterGate.Core.Backends;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Topology;

namespace ClusterGate.Core.Frontends.Rewrite;

public static partial class ReplyRewriter
{
    /// <summary>
    /// Rewrites <c>CLUSTER SLOTS</c>: an array of <c>[start, end, master, replica...]</c>, each node
    /// <c>[endpoint, port, id, metadata]</c> (Redis 7: four elements, metadata an array of pairs in RESP2 and a map
    /// in RESP3; Redis 4-6: three; Redis 3: two, no id).
    /// </summary>
    /// <remarks>
    /// The map gets the id and the announced endpoint (the first element, or the <c>hostname</c>/<c>ip</c> from
    /// the metadata when it is empty or <c>?</c>). Null removes the node; when the master is removed the whole slot
    /// range is removed. A kept node becomes <c>[gateway host, gateway port, id, empty metadata]</c> with as many
    /// elements as the server sent (at most four) and metadata of the same type: a hostname would name the real node.
    /// Any other shape returns the reply unchanged.
    /// </remarks>
    public static RespValue RewriteClusterSlots(RespValue reply, GatewayAddressMap map)
    {
        ArgumentNullException.ThrowIfNull(reply);
        ArgumentNullException.ThrowIfNull(map);
        if (reply.IsNull || reply.Type != RespType.Array)
        {
            return reply;
        }

        var ranges = new List<RespValue>(reply.Items.Count);
        foreach (RespValue range in reply.Items)
        {
            if (range.IsNull || range.Type != RespType.Array || range.Items.Count < 3
                || range.Items[0].Type != RespType.Integer || range.Items[1].Type != RespType.Integer)
            {
                return reply;
            }

            var items = new List<RespValue>(range.Items.Count) { range.Items[0], range.Items[1] };
            for (int i = 2; i < range.Items.Count; i++)
            {
                RespValue node = range.Items[i];
                if (!TryReadSlotsNode(node, out string? id, out NodeEndpoint announced))
                {
                    return reply;
                }

                if (map(id, announced) is { } gateway)
                {
                    items.Add(RewriteSlotsNode(node, gateway));
                }
                else if (i == 2)
                {
                    // Without its master the range has no node a client could send to.
                    items.Clear();
                    break;
                }
            }

            if (items.Count > 0)
            {
                ranges.Add(RespValue.Array([.. items]));
            }
        }

        return RespValue.Array([.. ranges]).WithAttributeOf(reply);
    }

    private static bool TryReadSlotsNode(RespValue node, out string? id, out NodeEndpoint announced)
    {
        id = null;
        announced = default;
        if (node.IsNull || node.Type != RespType.Array || node.Items.Count < 2 || !IsText(node.Items[0]) || !IsPort(node.Items[1]))
        {
            return false;
        }

        if (node.Items.Count > 2)
        {
            if (!IsText(node.Items[2]))
            {
                return false;
            }

            id = node.Items[2].AsString();
        }

        string host = node.Items[0].AsString();
        if (node.Items.Count > 3)
        {
            if (!TryGetPairs(node.Items[3], out IReadOnlyList<RespValue> metadata))
            {
                return false;
            }

            // Redis writes "?" (or nothing) first when the preferred endpoint is unknown; the metadata still names it.
            if (host.Length == 0 || host == "?")
            {
                host = FindText(metadata, "hostname"u8) ?? FindText(metadata, "ip"u8) ?? host;
            }
        }

        announced = new NodeEndpoint(host, (int)node.Items[1].Integer);
        return true;
    }

    private static RespValue RewriteSlotsNode(RespValue node, NodeEndpoint gateway)
    {
        var items = new RespValue[Math.Min(node.Items.Count, 4)];
        items[0] = RespValue.Bulk(gateway.Host);
        items[1] = RespValue.Int(gateway.Port);
        if (items.Length > 2)
        {
            items[2] = node.Items[2];
        }

        if (items.Length > 3)
        {
            items[3] = node.Items[3].Type == RespType.Map ? RespValue.Map() : RespValue.Array();
        }

        return RespValue.Array(items);
    }

    /// <summary>The non-empty text value of <paramref name="key"/> among alternating keys and values, or null.</summary>
    private static string? FindText(IReadOnlyList<RespValue> pairs, ReadOnlySpan<byte> key)
    {
        for (int i = 0; i + 1 < pairs.Count; i += 2)
        {
            if (IsKey(pairs[i], key) && IsText(pairs[i + 1]) && !pairs[i + 1].Bytes.IsEmpty)
            {
                return pairs[i + 1].AsString();
            }
        }

        return null;
    }
}
