using ClusterGate.Core.Backends;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Topology;

namespace ClusterGate.Core.Frontends.Rewrite;

public static partial class ReplyRewriter
{
    /// <summary>
    /// Rewrites <c>CLUSTER SHARDS</c>: an array of shards, each with <c>slots</c> and <c>nodes</c>; a node has
    /// <c>id</c>, <c>port</c> and/or <c>tls-port</c>, <c>ip</c>, <c>endpoint</c>, optional <c>hostname</c>,
    /// <c>role</c>, <c>replication-offset</c> and <c>health</c>. Shards and nodes are maps in RESP3 and flat
    /// key/value arrays in RESP2; the result keeps each one's type.
    /// </summary>
    /// <remarks>
    /// The map gets the id and the announced endpoint (the IP, else the hostname, else <c>endpoint</c>; the port,
    /// else the TLS port). Null removes the node, and a shard left without nodes is removed. A kept node has
    /// <c>ip</c>, <c>endpoint</c> and <c>port</c> set to the gateway's, <c>hostname</c> and <c>tls-port</c> removed
    /// (a TLS-only node gets <c>port</c> where <c>tls-port</c> was), and every other field, in order, as it was.
    /// Any other shape returns the reply unchanged.
    /// </remarks>
    public static RespValue RewriteClusterShards(RespValue reply, GatewayAddressMap map)
    {
        ArgumentNullException.ThrowIfNull(reply);
        ArgumentNullException.ThrowIfNull(map);
        if (reply.IsNull || reply.Type != RespType.Array)
        {
            return reply;
        }

        var shards = new List<RespValue>(reply.Items.Count);
        foreach (RespValue shard in reply.Items)
        {
            if (!TryRewriteShard(shard, map, out RespValue? rewritten))
            {
                return reply;
            }

            if (rewritten is not null)
            {
                shards.Add(rewritten);
            }
        }

        return RespValue.Array([.. shards]).WithAttributeOf(reply);
    }

    /// <summary>False for an unexpected shape; true with null when no node of the shard is left.</summary>
    private static bool TryRewriteShard(RespValue shard, GatewayAddressMap map, out RespValue? rewritten)
    {
        rewritten = null;
        if (!TryGetPairs(shard, out IReadOnlyList<RespValue> pairs))
        {
            return false;
        }

        var result = new List<RespValue>(pairs.Count);
        int keptNodes = -1;
        for (int i = 0; i < pairs.Count; i += 2)
        {
            RespValue key = pairs[i];
            RespValue value = pairs[i + 1];
            if (IsKey(key, "nodes"u8))
            {
                if (keptNodes >= 0 || value.IsNull || value.Type != RespType.Array)
                {
                    return false;
                }

                var nodes = new List<RespValue>(value.Items.Count);
                foreach (RespValue node in value.Items)
                {
                    if (!TryReadShardsNode(node, out string? id, out NodeEndpoint announced))
                    {
                        return false;
                    }

                    if (map(id, announced) is { } gateway)
                    {
                        nodes.Add(RewriteShardsNode(node, gateway));
                    }
                }

                keptNodes = nodes.Count;
                value = RespValue.Array([.. nodes]);
            }

            result.Add(key);
            result.Add(value);
        }

        // A shard without a "nodes" field is not one we understand.
        if (keptNodes < 0)
        {
            return false;
        }

        rewritten = keptNodes == 0 ? null : PairsLike(shard, result);
        return true;
    }

    private static bool TryReadShardsNode(RespValue node, out string? id, out NodeEndpoint announced)
    {
        id = null;
        announced = default;
        if (!TryGetPairs(node, out IReadOnlyList<RespValue> pairs))
        {
            return false;
        }

        int? port = null;
        int? tlsPort = null;
        string? ip = null;
        string? hostname = null;
        string? endpoint = null;
        for (int i = 0; i < pairs.Count; i += 2)
        {
            RespValue key = pairs[i];
            RespValue value = pairs[i + 1];
            if (!IsText(key))
            {
                return false;
            }

            if (IsKey(key, "port"u8) || IsKey(key, "tls-port"u8))
            {
                if (!IsPort(value))
                {
                    return false;
                }

                if (IsKey(key, "port"u8))
                {
                    port = (int)value.Integer;
                }
                else
                {
                    tlsPort = (int)value.Integer;
                }
            }
            else if (IsKey(key, "id"u8) || IsKey(key, "ip"u8) || IsKey(key, "hostname"u8) || IsKey(key, "endpoint"u8))
            {
                if (!IsText(value))
                {
                    return false;
                }

                string text = value.AsString();
                if (IsKey(key, "id"u8))
                {
                    id = text;
                }
                else if (IsKey(key, "ip"u8))
                {
                    ip = text;
                }
                else if (IsKey(key, "hostname"u8))
                {
                    hostname = text;
                }
                else
                {
                    endpoint = text;
                }
            }
        }

        if ((port ?? tlsPort) is not { } announcedPort)
        {
            return false;
        }

        string host = !string.IsNullOrEmpty(ip) ? ip : !string.IsNullOrEmpty(hostname) ? hostname : endpoint ?? string.Empty;
        announced = new NodeEndpoint(host, announcedPort);
        return true;
    }

    private static RespValue RewriteShardsNode(RespValue node, NodeEndpoint gateway)
    {
        IReadOnlyList<RespValue> pairs = node.Items;
        bool hasPort = false;
        for (int i = 0; i < pairs.Count; i += 2)
        {
            hasPort |= IsKey(pairs[i], "port"u8);
        }

        var result = new List<RespValue>(pairs.Count);
        for (int i = 0; i < pairs.Count; i += 2)
        {
            RespValue key = pairs[i];
            RespValue value = pairs[i + 1];
            if (IsKey(key, "ip"u8) || IsKey(key, "endpoint"u8))
            {
                value = RespValue.Bulk(gateway.Host);
            }
            else if (IsKey(key, "port"u8))
            {
                value = RespValue.Int(gateway.Port);
            }
            else if (IsKey(key, "tls-port"u8))
            {
                if (hasPort)
                {
                    continue;
                }

                key = RespValue.Bulk("port");
                value = RespValue.Int(gateway.Port);
            }
            else if (IsKey(key, "hostname"u8))
            {
                continue;
            }

            result.Add(key);
            result.Add(value);
        }

        return PairsLike(node, result);
    }
}
