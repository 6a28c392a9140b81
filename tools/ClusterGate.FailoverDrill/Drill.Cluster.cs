using System.Diagnostics;
using System.Globalization;

namespace ClusterGate.FailoverDrill;

/// <summary>Waiting for the cluster: a healthy owner of the drill's slot, a restarted node back as a replica.</summary>
internal sealed partial class Drill
{
    /// <summary>Waits for cluster_state:ok on the survivor and a healthy master other than <paramref name="crashedId"/> owning the slot.</summary>
    private ClusterNode? WaitForClusterOk(string survivor, string crashedId, int slot)
    {
        var deadline = Deadline(_o.SettleTimeout);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            try
            {
                using var c = RespConnection.Connect(survivor, ControlTimeout);
                var info = c.Execute("CLUSTER", "INFO").Text ?? string.Empty;
                var owner = ClusterView.Fetch(c).FirstOrDefault(n => n.IsMaster && !n.IsFailed && n.OwnsSlot(slot) && n.Id != crashedId);
                if (info.Contains("cluster_state:ok", StringComparison.Ordinal) && owner is not null)
                {
                    return owner;
                }
            }
            catch (Exception e) when (e is RespConnectionException or InvalidOperationException)
            {
            }

            Thread.Sleep(100);
        }

        return null;
    }

    /// <summary>
    /// Waits until the restarted node is a replica of <paramref name="master"/> with its link up, has caught up
    /// with the master's replication offset as it was when the link came up (after a full sync a replica has
    /// the writes buffered during the transfer still to apply: promoted then, it would lose them), and
    /// cluster_state:ok; and every master with slots (as the survivor lists them) knows it as that, unflagged:
    /// those masters vote in the next election. Returns when that was first seen, or 0 (with
    /// <paramref name="note"/>) at the settle timeout.
    /// </summary>
    private long WaitForRejoin(ClusterNode node, ClusterNode master, string survivor, out string note)
    {
        var deadline = Deadline(_o.SettleTimeout);
        note = "not checked";
        long catchUpTo = -1;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            try
            {
                note = RejoinMissing(node, master, survivor, ref catchUpTo) ?? string.Empty;
                if (note.Length == 0)
                {
                    return Stopwatch.GetTimestamp();
                }
            }
            catch (Exception e) when (e is RespConnectionException or InvalidOperationException)
            {
                note = e.Message;
            }

            Thread.Sleep(100);
        }

        note = $"{node.Address} not back as a replica within {_o.SettleTimeout.TotalSeconds:0} s: {note}";
        return 0;
    }

    /// <summary>What is still missing for the node to count as rejoined, or null.</summary>
    private static string? RejoinMissing(ClusterNode node, ClusterNode master, string survivor, ref long catchUpTo)
    {
        using (var c = RespConnection.Connect(node.Address, ControlTimeout))
        {
            var role = c.Execute("ROLE");
            if (role.Items is not { Count: > 0 } items || items[0].Text != "slave")
            {
                catchUpTo = -1;
                return $"{node.Address} ROLE {role}";
            }

            var replication = c.Execute("INFO", "replication").Text ?? string.Empty;
            if (!replication.Contains("master_link_status:up", StringComparison.Ordinal))
            {
                catchUpTo = -1;
                return $"{node.Address} master link not up";
            }

            if (catchUpTo < 0)
            {
                using var m = RespConnection.Connect(master.Address, ControlTimeout);
                catchUpTo = InfoField(m.Execute("INFO", "replication").Text, "master_repl_offset");
            }

            var offset = InfoField(replication, "slave_repl_offset");
            if (offset < catchUpTo)
            {
                return $"{node.Address} replicated up to offset {offset}, the master was at {catchUpTo}";
            }

            if (!(c.Execute("CLUSTER", "INFO").Text ?? string.Empty).Contains("cluster_state:ok", StringComparison.Ordinal))
            {
                return $"{node.Address} cluster_state not ok";
            }
        }

        List<ClusterNode> masters;
        using (var s = RespConnection.Connect(survivor, ControlTimeout))
        {
            masters = ClusterView.Fetch(s).Where(n => n.IsMaster && !n.IsFailed && n.Slots.Count > 0).ToList();
        }

        foreach (var m in masters)
        {
            using var c = RespConnection.Connect(m.Address, ControlTimeout);
            var seen = ClusterView.Fetch(c).FirstOrDefault(n => n.Id == node.Id);
            if (seen is null || seen.IsFailed || !seen.HasFlag("slave") || seen.MasterId != master.Id)
            {
                return $"{m.Address} sees {node.Address} as {seen?.Flags ?? "unknown"} of {seen?.MasterId ?? "-"}";
            }
        }

        return null;
    }

    private static long InfoField(string? info, string name)
    {
        foreach (var line in (info ?? string.Empty).Split('\n'))
        {
            if (line.StartsWith(name + ":", StringComparison.Ordinal)
                && long.TryParse(line.AsSpan(name.Length + 1).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            {
                return value;
            }
        }

        throw new InvalidOperationException($"INFO replication has no {name}");
    }

    private static long Deadline(TimeSpan timeout) => Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
}
