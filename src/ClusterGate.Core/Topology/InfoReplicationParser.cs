using System.Globalization;

namespace ClusterGate.Core.Topology;

/// <summary>Parses the text of <c>INFO replication</c> (<c>key:value</c> lines under a <c># Replication</c> header).</summary>
/// <remarks>
/// Control plane: strings are fine here. Never throws: an unreadable value keeps its default, so a node that
/// answers oddly is seen as <see cref="ReplicationRole.Unknown"/> or link-down rather than breaking the monitor loop.
/// </remarks>
public static class InfoReplicationParser
{
    public static ReplicationInfo Parse(string text)
    {
        var role = ReplicationRole.Unknown;
        var connectedReplicas = 0;
        List<ReplicaLink>? replicas = null;
        string? masterHost = null;
        var masterPort = 0;
        var masterLinkUp = false;
        var masterLastIo = -1L;
        string? replicationId = null;
        var masterOffset = 0L;
        var replicaOffset = 0L;

        foreach (var rawLine in (text ?? string.Empty).Split('\n'))
        {
            var line = rawLine.TrimEnd('\r');
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (line.Length == 0 || line[0] == '#' || colon <= 0)
            {
                continue;
            }

            var key = line[..colon];
            var value = line[(colon + 1)..];
            switch (key)
            {
                case "role":
                    role = value switch
                    {
                        "master" => ReplicationRole.Master,
                        "slave" or "replica" => ReplicationRole.Replica,
                        _ => ReplicationRole.Unknown,
                    };
                    break;
                case "connected_slaves":
                    TryParseInt(value, ref connectedReplicas);
                    break;
                case "master_host":
                    masterHost = value;
                    break;
                case "master_port":
                    TryParseInt(value, ref masterPort);
                    break;
                case "master_link_status":
                    masterLinkUp = value == "up";
                    break;
                case "master_last_io_seconds_ago":
                    TryParseLong(value, ref masterLastIo);
                    break;
                case "master_replid":
                    replicationId = value;
                    break;
                case "master_repl_offset":
                    TryParseLong(value, ref masterOffset);
                    break;
                case "slave_repl_offset":
                    TryParseLong(value, ref replicaOffset);
                    break;
                default:
                    if (IsReplicaLineKey(key) && TryParseReplicaLink(value, out var link))
                    {
                        (replicas ??= []).Add(link);
                    }

                    break;
            }
        }

        return new ReplicationInfo
        {
            Role = role,
            ConnectedReplicas = connectedReplicas,
            Replicas = replicas ?? (IReadOnlyList<ReplicaLink>)[],
            MasterHost = masterHost,
            MasterPort = masterPort,
            MasterLinkUp = masterLinkUp,
            MasterLastIoSecondsAgo = masterLastIo,
            ReplicationId = replicationId,
            MasterReplicationOffset = masterOffset,
            ReplicaReplicationOffset = replicaOffset,
        };
    }

    /// <summary><c>slave0</c>, <c>slave1</c>, ... (not <c>slave_repl_offset</c>, <c>slave_priority</c> and the like).</summary>
    private static bool IsReplicaLineKey(string key)
    {
        const string Prefix = "slave";
        if (key.Length <= Prefix.Length || !key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in key.AsSpan(Prefix.Length))
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><c>ip=127.0.0.1,port=7605,state=online,offset=42,lag=0</c>; needs at least ip and port.</summary>
    private static bool TryParseReplicaLink(string value, out ReplicaLink link)
    {
        string? ip = null;
        var port = -1;
        var state = string.Empty;
        var offset = 0L;
        var lag = 0L;
        foreach (var pair in value.Split(','))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            var field = pair[(eq + 1)..];
            switch (pair[..eq])
            {
                case "ip":
                    ip = field;
                    break;
                case "port":
                    TryParseInt(field, ref port);
                    break;
                case "state":
                    state = field;
                    break;
                case "offset":
                    TryParseLong(field, ref offset);
                    break;
                case "lag":
                    TryParseLong(field, ref lag);
                    break;
                default:
                    break;
            }
        }

        link = new ReplicaLink(ip ?? string.Empty, port, state, offset, lag);
        return ip is not null && port >= 0;
    }

    // Overwrites the target only when the text is a number, so a garbled value keeps the documented default.
    private static void TryParseInt(string text, ref int target)
    {
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            target = value;
        }
    }

    private static void TryParseLong(string text, ref long target)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            target = value;
        }
    }
}
