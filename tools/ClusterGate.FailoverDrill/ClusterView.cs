using System.Globalization;
using System.Text;

namespace ClusterGate.FailoverDrill;

/// <summary>One line of <c>CLUSTER NODES</c>.</summary>
internal sealed record ClusterNode(string Id, string Address, string Flags, string MasterId, IReadOnlyList<(int From, int To)> Slots)
{
    public bool IsMaster => HasFlag("master");
    public bool IsFailed => HasFlag("fail") || HasFlag("fail?");
    public bool IsMyself => HasFlag("myself");

    public bool HasFlag(string flag) => Flags.Split(',').Contains(flag, StringComparer.Ordinal);

    public bool OwnsSlot(int slot) => Slots.Any(r => slot >= r.From && slot <= r.To);
}

internal static class ClusterView
{
    public static List<ClusterNode> Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var nodes = new List<ClusterNode>();
        foreach (var raw in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var f = raw.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 8)
            {
                continue;
            }

            var address = f[1];
            var at = address.IndexOf('@', StringComparison.Ordinal);
            if (at >= 0)
            {
                address = address[..at];
            }

            var slots = new List<(int, int)>();
            for (var i = 8; i < f.Length; i++)
            {
                if (f[i].StartsWith('['))
                {
                    continue; // importing/migrating marker
                }

                var dash = f[i].IndexOf('-', StringComparison.Ordinal);
                if (dash < 0)
                {
                    var s = int.Parse(f[i], CultureInfo.InvariantCulture);
                    slots.Add((s, s));
                }
                else
                {
                    slots.Add((int.Parse(f[i][..dash], CultureInfo.InvariantCulture), int.Parse(f[i][(dash + 1)..], CultureInfo.InvariantCulture)));
                }
            }

            nodes.Add(new ClusterNode(f[0], address, f[2], f[3], slots));
        }

        return nodes;
    }

    public static List<ClusterNode> Fetch(RespConnection connection)
    {
        var reply = connection.Execute("CLUSTER", "NODES");
        if (reply.IsError || reply.Text is null)
        {
            throw new InvalidOperationException($"CLUSTER NODES on {connection.Endpoint}: {reply}");
        }

        return Parse(reply.Text);
    }
}

/// <summary>Redis Cluster key slot: CRC16-XMODEM of the key (or of its first non-empty {hash tag}) mod 16384.</summary>
internal static class KeySlot
{
    private static readonly ushort[] Table = BuildTable();

    public static int Of(string key)
    {
        var bytes = Encoding.UTF8.GetBytes(key);
        ReadOnlySpan<byte> span = bytes;
        var open = span.IndexOf((byte)'{');
        if (open >= 0)
        {
            var close = span[(open + 1)..].IndexOf((byte)'}');
            if (close > 0)
            {
                span = span.Slice(open + 1, close);
            }
        }

        ushort crc = 0;
        foreach (var b in span)
        {
            crc = (ushort)((crc << 8) ^ Table[((crc >> 8) ^ b) & 0xFF]);
        }

        return crc & 16383;
    }

    /// <summary>A short hash tag whose slot the given node owns.</summary>
    public static string TagFor(ClusterNode master, string prefix)
    {
        for (var i = 0; i < 1_000_000; i++)
        {
            var tag = prefix + i.ToString(CultureInfo.InvariantCulture);
            if (master.OwnsSlot(Of("{" + tag + "}")))
            {
                return tag;
            }
        }

        throw new InvalidOperationException($"no hash tag found for {master.Address}");
    }

    private static ushort[] BuildTable()
    {
        var table = new ushort[256];
        for (var i = 0; i < 256; i++)
        {
            var crc = (ushort)(i << 8);
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }

            table[i] = crc;
        }

        return table;
    }
}
