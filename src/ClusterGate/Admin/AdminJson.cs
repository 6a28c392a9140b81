using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Frontends.ShardPorts;
using ClusterGate.Core.Topology;
using ClusterGate.Json;

namespace ClusterGate.Admin;

/// <summary>The admin endpoints' JSON documents, written by hand so their shape is explicit and stable.</summary>
internal static class AdminJson
{
    /// <summary><c>{"status":"ok","groups":3}</c>, or <c>"degraded"</c> with the groups lacking a confirmed master.</summary>
    public static (bool Healthy, byte[] Body) Health(TopologySnapshot snapshot, string transport)
    {
        var lacking = snapshot.Groups.Where(g => !g.MasterConfirmed).ToList();
        var healthy = snapshot.Groups.Length > 0 && lacking.Count == 0;
        var body = Write(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("status", healthy ? "ok" : "degraded");
            writer.WriteNumber("groups", snapshot.Groups.Length);
            writer.WriteString("transport", transport);
            if (!healthy)
            {
                writer.WriteStartArray("groupsWithoutMaster");
                foreach (var group in lacking)
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("group", group.Id);
                    WriteEndpoint(writer, "lastMaster", group.Master?.Announced);
                    writer.WriteBoolean("masterDown", group.Master?.IsDown ?? true);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        });
        return (healthy, body);
    }

    /// <summary>
    /// <c>/readyz</c>: ready only when the topology is known, every group has a confirmed master and every listener is bound
    /// (a load balancer or a Kubernetes readiness probe sends traffic only then); otherwise the reasons, one per problem.
    /// </summary>
    public static (bool Ready, byte[] Body) Ready(TopologySnapshot snapshot, IReadOnlyDictionary<int, (int Port, string Reason)> unbound)
    {
        var reasons = new List<string>();
        if (snapshot.Groups.Length == 0)
        {
            reasons.Add("the topology is not known yet");
        }

        reasons.AddRange(snapshot.Groups.Where(g => !g.MasterConfirmed).Select(g => $"group {g.Id} has no confirmed master"));
        reasons.AddRange(unbound.OrderBy(u => u.Key).Select(u => $"shard port {u.Value.Port} of group {u.Key} is not bound: {u.Value.Reason}"));
        var body = Write(writer =>
        {
            writer.WriteStartObject();
            writer.WriteString("status", reasons.Count == 0 ? "ready" : "not ready");
            if (reasons.Count > 0)
            {
                writer.WriteStartArray("reasons");
                foreach (var reason in reasons)
                {
                    writer.WriteStringValue(reason);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        });
        return (reasons.Count == 0, body);
    }

    /// <summary>The document of <c>clustergate topology --json</c>.</summary>
    public static byte[] Topology(TopologySnapshot snapshot)
    {
        using var stream = new MemoryStream();
        TopologyJson.Write(stream, snapshot);
        return stream.ToArray();
    }

    /// <summary><c>{"shards":[{"group","port","master","masterConfirmed","activeSessions"}]}</c>.</summary>
    public static byte[] Shards(IReadOnlyList<ShardPortBinding> bindings, TopologySnapshot snapshot) => Write(writer =>
    {
        writer.WriteStartObject();
        writer.WriteStartArray("shards");
        foreach (var binding in bindings.OrderBy(b => b.Port))
        {
            var group = snapshot.GroupById(binding.GroupId);
            writer.WriteStartObject();
            writer.WriteNumber("group", binding.GroupId);
            writer.WriteNumber("port", binding.Port);
            WriteEndpoint(writer, "master", group?.Master?.Announced);
            writer.WriteBoolean("masterConfirmed", group?.MasterConfirmed ?? false);
            writer.WriteNumber("activeSessions", binding.ActiveSessions);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    });

    /// <summary>
    /// <c>{"failovers":[...]}</c>, oldest first: each with its group, the old and new master, when the master was lost and
    /// the new one confirmed, and the phases in milliseconds (null until reached: <c>resumedMs</c> stays null when no
    /// traffic waited). <c>state</c>: <c>master lost</c>, <c>master back</c> (the same master confirmed again, no failover),
    /// <c>promoted</c>, <c>resumed</c>.
    /// </summary>
    public static byte[] Failovers(IReadOnlyList<Observability.FailoverRecord> failovers, TopologySnapshot snapshot) => Write(writer =>
    {
        writer.WriteStartObject();
        writer.WriteStartArray("failovers");
        foreach (var f in failovers)
        {
            var group = snapshot.GroupById(f.Group);
            var state = f.NewMaster is null
                ? group is { MasterConfirmed: true } && group.Master?.Id == f.OldMaster ? "master back" : "master lost"
                : f.Resumed is null ? "promoted" : "resumed";
            writer.WriteStartObject();
            writer.WriteNumber("group", f.Group);
            writer.WriteString("state", state);
            writer.WriteString("oldMaster", f.OldMaster);
            writer.WriteString("newMaster", f.NewMaster);
            WriteTime(writer, "lostAt", f.LostAt);
            WriteTime(writer, "promotedAt", f.PromotedAt);
            WriteMilliseconds(writer, "promotionMs", f.Promotion);
            WriteMilliseconds(writer, "resumedMs", f.Resumed);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    });

    /// <summary><c>{"events":[...]}</c>, oldest first.</summary>
    public static byte[] Events(IReadOnlyList<TopologyEvent> events) => Write(writer =>
    {
        writer.WriteStartObject();
        writer.WriteStartArray("events");
        foreach (var e in events)
        {
            writer.WriteStartObject();
            writer.WriteString("timestamp", e.Timestamp.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteString("kind", e.Kind.ToString());
            writer.WriteNumber("snapshotVersion", e.SnapshotVersion);
            if (e.GroupId is { } group)
            {
                writer.WriteNumber("group", group);
            }
            else
            {
                writer.WriteNull("group");
            }

            writer.WriteString("node", e.NodeId);
            writer.WriteString("previousNode", e.PreviousNodeId);
            writer.WriteString("detail", e.Detail);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    });

    private static void WriteTime(Utf8JsonWriter writer, string name, DateTimeOffset? time)
    {
        if (time is { } t)
        {
            writer.WriteString(name, t.ToString("O", CultureInfo.InvariantCulture));
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static void WriteMilliseconds(Utf8JsonWriter writer, string name, TimeSpan? duration)
    {
        if (duration is { } d)
        {
            writer.WriteNumber(name, Math.Round(d.TotalMilliseconds, 1));
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static void WriteEndpoint(Utf8JsonWriter writer, string name, NodeEndpoint? endpoint)
    {
        if (endpoint is { } e)
        {
            writer.WriteString(name, e.ToString());
        }
        else
        {
            writer.WriteNull(name);
        }
    }

    private static byte[] Write(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            write(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
