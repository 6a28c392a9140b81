using System.Globalization;
using ClusterGate.Hostile.Resp;

namespace ClusterGate.Hostile.Target;

/// <summary>
/// connected_clients of the real Redis node behind the port (<c>--node</c>), from INFO clients on a fresh
/// connection each time (that connection counts itself, the same on every reading).
/// </summary>
internal sealed class NodeClients(string? node, TimeSpan timeout)
{
    public bool Enabled => node is not null;

    /// <summary>Null without --node or when the node does not answer.</summary>
    public int? Read()
    {
        if (node is null)
        {
            return null;
        }

        try
        {
            using var connection = RespConnection.Connect(node, timeout);
            var info = connection.Execute("INFO", "clients").Text ?? string.Empty;
            var line = info.Split('\n').FirstOrDefault(l => l.StartsWith("connected_clients:", StringComparison.Ordinal));
            return line is not null && int.TryParse(line.AsSpan("connected_clients:".Length).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var count)
                ? count
                : null;
        }
        catch (RespConnectionException)
        {
            return null;
        }
    }
}
