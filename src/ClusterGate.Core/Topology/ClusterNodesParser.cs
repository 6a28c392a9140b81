using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace ClusterGate.Core.Topology;

/// <summary>
/// Parses the text of a <c>CLUSTER NODES</c> reply, one node per line:
/// <c>&lt;id&gt; &lt;ip:port@cport[,hostname]&gt; &lt;flags&gt; &lt;master&gt; &lt;ping-sent&gt; &lt;pong-recv&gt; &lt;config-epoch&gt; &lt;link-state&gt; &lt;slot&gt;...</c>
/// </summary>
/// <remarks>
/// Control plane: strings are fine here. The topology monitor calls this in its loop, so a malformed line is
/// skipped (never half-read, never thrown): one unreadable node must not stop the refresh of the others.
/// </remarks>
public static class ClusterNodesParser
{
    /// <summary>Hash slots are 0..16383.</summary>
    public const int SlotCount = 16384;

    private const int FixedFieldCount = 8;

    /// <summary>Parses every readable line; blank and malformed lines are skipped.</summary>
    public static IReadOnlyList<ClusterNodeInfo> Parse(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return [];
        }

        var nodes = new List<ClusterNodeInfo>();
        foreach (var line in text.Split('\n'))
        {
            if (TryParseLine(line, out var node))
            {
                nodes.Add(node);
            }
        }

        return nodes;
    }

    /// <summary>Parses one line (a trailing <c>\r</c> is allowed). False, never an exception, when it is malformed.</summary>
    public static bool TryParseLine(string line, [NotNullWhen(true)] out ClusterNodeInfo? node)
    {
        node = null;
        if (string.IsNullOrWhiteSpace(line))
        {
            return false;
        }

        var fields = line.Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < FixedFieldCount)
        {
            return false;
        }

        var id = fields[0];
        if (!TryParseAddress(fields[1], out var ip, out var port, out var busPort, out var hostname)
            || !TryParseLong(fields[4], out var pingSent)
            || !TryParseLong(fields[5], out var pongReceived)
            || !TryParseLong(fields[6], out var configEpoch)
            || !TryParseLinkState(fields[7], out var linkConnected))
        {
            return false;
        }

        List<SlotRange>? slots = null;
        List<SlotMigration>? migrations = null;
        for (var i = FixedFieldCount; i < fields.Length; i++)
        {
            var item = fields[i];
            if (item.StartsWith('['))
            {
                if (!TryParseMigration(item, out var migration))
                {
                    return false;
                }

                (migrations ??= []).Add(migration);
            }
            else
            {
                if (!TryParseSlotRange(item, out var range))
                {
                    return false;
                }

                (slots ??= []).Add(range);
            }
        }

        node = new ClusterNodeInfo
        {
            Id = id,
            Ip = ip,
            Port = port,
            BusPort = busPort,
            Hostname = hostname,
            Flags = ParseFlags(fields[2]),
            MasterId = fields[3] == "-" ? null : fields[3],
            PingSentMs = pingSent,
            PongReceivedMs = pongReceived,
            ConfigEpoch = configEpoch,
            LinkConnected = linkConnected,
            Slots = slots ?? (IReadOnlyList<SlotRange>)[],
            Migrations = migrations ?? (IReadOnlyList<SlotMigration>)[],
        };
        return true;
    }

    /// <summary>
    /// <c>ip:port@cport</c>, optionally followed by <c>,hostname</c> (Redis 7.0) and <c>,key=value</c> auxiliary
    /// fields (Redis 7.2, where the hostname may also come as <c>hostname=</c>). The IP may be empty (hostname only,
    /// or <c>:0@0</c> for noaddr) or IPv6, bare or bracketed; the port is after the last ':' before '@'.
    /// </summary>
    private static bool TryParseAddress(string field, out string ip, out int port, out int busPort, out string? hostname)
    {
        ip = string.Empty;
        port = 0;
        busPort = 0;
        hostname = null;

        var parts = field.Split(',');
        var endpoint = parts[0];

        // Redis before 4.0 printed no bus port; the line is still usable, the bus port is then unknown (0).
        var at = endpoint.IndexOf('@', StringComparison.Ordinal);
        var hostPort = at < 0 ? endpoint : endpoint[..at];
        if (at >= 0 && !TryParseInt(endpoint.AsSpan(at + 1), out busPort))
        {
            return false;
        }

        var colon = hostPort.LastIndexOf(':');
        if (colon < 0 || !TryParseInt(hostPort.AsSpan(colon + 1), out port) || port > ushort.MaxValue || busPort > ushort.MaxValue)
        {
            return false;
        }

        ip = hostPort[..colon];
        if (ip.Length >= 2 && ip[0] == '[' && ip[^1] == ']')
        {
            ip = ip[1..^1];
        }

        for (var i = 1; i < parts.Length; i++)
        {
            var part = parts[i];
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                // Positional hostname: only right after the address (7.2 leaves it empty, ",,", when unset).
                if (i == 1 && part.Length > 0)
                {
                    hostname = part;
                }
            }
            else if (part.AsSpan(0, eq).SequenceEqual("hostname") && eq + 1 < part.Length)
            {
                hostname = part[(eq + 1)..];
            }
        }

        return true;
    }

    private static ClusterNodeFlags ParseFlags(string field)
    {
        var flags = ClusterNodeFlags.None;
        foreach (var flag in field.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            flags |= flag switch
            {
                "myself" => ClusterNodeFlags.Myself,
                "master" => ClusterNodeFlags.Master,
                "slave" => ClusterNodeFlags.Replica,
                "fail?" => ClusterNodeFlags.PossiblyFailed,
                "fail" => ClusterNodeFlags.Failed,
                "handshake" => ClusterNodeFlags.Handshake,
                "noaddr" => ClusterNodeFlags.NoAddress,
                "nofailover" => ClusterNodeFlags.NoFailover,
                "noflags" => ClusterNodeFlags.NoFlags,
                // Newer servers add flags; what we do not know cannot change routing.
                _ => ClusterNodeFlags.None,
            };
        }

        return flags;
    }

    private static bool TryParseLinkState(string field, out bool connected)
    {
        connected = field == "connected";
        return connected || field == "disconnected";
    }

    /// <summary><c>N</c> or <c>N-M</c>.</summary>
    private static bool TryParseSlotRange(string item, out SlotRange range)
    {
        range = default;
        var dash = item.IndexOf('-', StringComparison.Ordinal);
        int start, end;
        if (dash < 0)
        {
            if (!TryParseSlot(item, out start))
            {
                return false;
            }

            end = start;
        }
        else if (!TryParseSlot(item.AsSpan(0, dash), out start) || !TryParseSlot(item.AsSpan(dash + 1), out end) || end < start)
        {
            return false;
        }

        range = new SlotRange(start, end);
        return true;
    }

    /// <summary><c>[N-&gt;-targetid]</c> (migrating, on the source) or <c>[N-&lt;-sourceid]</c> (importing, on the target).</summary>
    private static bool TryParseMigration(string item, out SlotMigration migration)
    {
        migration = default;
        if (item.Length < 2 || item[^1] != ']')
        {
            return false;
        }

        var inner = item.AsSpan(1, item.Length - 2);
        bool importing;
        var marker = inner.IndexOf("->-", StringComparison.Ordinal);
        if (marker >= 0)
        {
            importing = false;
        }
        else
        {
            marker = inner.IndexOf("-<-", StringComparison.Ordinal);
            importing = true;
        }

        if (marker < 0 || !TryParseSlot(inner[..marker], out var slot))
        {
            return false;
        }

        var peerId = inner[(marker + 3)..];
        if (peerId.IsEmpty)
        {
            return false;
        }

        migration = new SlotMigration(slot, importing, peerId.ToString());
        return true;
    }

    private static bool TryParseSlot(ReadOnlySpan<char> text, out int slot) =>
        TryParseInt(text, out slot) && slot < SlotCount;

    // Digits only: no sign, no spaces, no thousands separators, whatever the culture.
    private static bool TryParseInt(ReadOnlySpan<char> text, out int value) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    private static bool TryParseLong(ReadOnlySpan<char> text, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
