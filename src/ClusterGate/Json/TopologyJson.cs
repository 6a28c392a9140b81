using System.Text.Json;
using ClusterGate.Core.Topology;

namespace ClusterGate.Json;

/// <summary>The topology as JSON, one document for <c>clustergate topology --json</c> and the admin <c>/topology</c>.</summary>
internal static class TopologyJson
{
    public static void Write(Stream output, TopologySnapshot snapshot)
    {
        using var writer = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = true });
        writer.WriteStartObject();
        writer.WriteStartArray("groups");
        foreach (var group in snapshot.Groups)
        {
            writer.WriteStartObject();
            writer.WriteNumber("id", group.Id);
            writer.WritePropertyName("master");
            if (group.Master is { } master)
            {
                WriteNode(writer, master);
            }
            else
            {
                writer.WriteNullValue();
            }

            writer.WriteStartArray("replicas");
            foreach (var replica in group.Replicas)
            {
                WriteNode(writer, replica);
            }

            writer.WriteEndArray();
            writer.WriteStartArray("slots");
            foreach (var range in group.Slots)
            {
                writer.WriteStartArray();
                writer.WriteNumberValue(range.Start);
                writer.WriteNumberValue(range.End);
                writer.WriteEndArray();
            }

            writer.WriteEndArray();
            writer.WriteBoolean("confirmed", group.MasterConfirmed);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private static void WriteNode(Utf8JsonWriter writer, NodeState node)
    {
        writer.WriteStartObject();
        writer.WriteString("id", node.Id);
        writer.WriteString("host", node.Announced.Host);
        writer.WriteNumber("port", node.Announced.Port);
        writer.WriteBoolean("down", node.IsDown);
        writer.WriteEndObject();
    }
}
