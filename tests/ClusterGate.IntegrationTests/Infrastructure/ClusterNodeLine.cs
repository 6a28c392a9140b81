using System.Globalization;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>
/// One line of <c>CLUSTER NODES</c>, parsed just enough for the fixture's waits. Independent of
/// ClusterGate's own parser on purpose: the fixture must not share bugs with the code under test.
/// </summary>
/// <param name="Slots">Slot ranges as printed ("0-5460 6000"), migration markers ("[...]") left out.</param>
public sealed record ClusterNodeLine(string Id, string Host, int Port, int BusPort, string Flags, string MasterId, long ConfigEpoch, string Slots)
{
    public bool IsMaster => HasFlag("master");

    public bool IsReplica => HasFlag("slave");

    public bool IsMyself => HasFlag("myself");

    /// <summary><c>fail</c>, <c>fail?</c>, <c>handshake</c> or <c>noaddr</c>: not a settled, healthy member.</summary>
    public bool IsUnsettled => HasFlag("fail") || HasFlag("fail?") || HasFlag("handshake") || HasFlag("noaddr");

    public bool HasFlag(string flag) => Flags.Split(',').Contains(flag, StringComparer.Ordinal);

    public bool OwnsSlot(int slot)
    {
        foreach (var range in Slots.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var dash = range.IndexOf('-', StringComparison.Ordinal);
            var first = int.Parse(dash < 0 ? range : range[..dash], CultureInfo.InvariantCulture);
            var last = dash < 0 ? first : int.Parse(range[(dash + 1)..], CultureInfo.InvariantCulture);
            if (slot >= first && slot <= last)
            {
                return true;
            }
        }

        return false;
    }

    public static IReadOnlyList<ClusterNodeLine> ParseAll(string text)
    {
        var lines = new List<ClusterNodeLine>();
        foreach (var raw in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parsed = Parse(raw);
            if (parsed is not null)
            {
                lines.Add(parsed);
            }
        }

        return lines;
    }

    // <id> <ip:port@cport[,hostname]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot> ...
    private static ClusterNodeLine? Parse(string line)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 8)
        {
            return null;
        }

        var address = fields[1].Split(',')[0];
        var at = address.IndexOf('@', StringComparison.Ordinal);
        var hostPort = at < 0 ? address : address[..at];
        var colon = hostPort.LastIndexOf(':');
        if (colon < 0
            || !int.TryParse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
        {
            return null;
        }

        var busPort = 0;
        if (at >= 0)
        {
            _ = int.TryParse(address[(at + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out busPort);
        }

        _ = long.TryParse(fields[6], NumberStyles.None, CultureInfo.InvariantCulture, out var configEpoch);
        var slots = string.Join(' ', fields.Skip(8).Where(f => !f.StartsWith('[')));
        return new ClusterNodeLine(fields[0], hostPort[..colon], port, busPort, fields[2], fields[3], configEpoch, slots);
    }
}
