using System.Globalization;
using ClusterGate.Hostile.Resp;

namespace ClusterGate.Hostile.Target;

/// <summary>
/// The real Redis node behind the port (<c>--node</c>): connected_clients (INFO clients) and role (INFO replication),
/// each on a fresh connection (that connection counts itself, the same on every reading). A role that changes during a
/// probe means the cluster failed the node over: a probe stalled it long enough.
/// </summary>
internal sealed class NodeWatch(string? node, TimeSpan timeout)
{
    /// <summary>Null without --node or when the node does not answer.</summary>
    public int? Clients() =>
        Field("clients", "connected_clients") is { } text && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var count)
            ? count
            : null;

    /// <summary>"master" or "slave"; null without --node or when the node does not answer.</summary>
    public string? Role() => Field("replication", "role");

    private string? Field(string section, string name)
    {
        if (node is null)
        {
            return null;
        }

        try
        {
            using var connection = RespConnection.Connect(node, timeout);
            var info = connection.Execute("INFO", section).Text ?? string.Empty;
            var prefix = name + ":";
            return info.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..].Trim();
        }
        catch (RespConnectionException)
        {
            return null;
        }
    }
}
