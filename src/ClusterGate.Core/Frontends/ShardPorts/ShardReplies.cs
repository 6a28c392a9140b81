using System.Globalization;
using System.Text;
using ClusterGate.Core.Topology;

namespace ClusterGate.Core.Frontends.ShardPorts;

/// <summary>Replies the shard port writes itself. Each says what happened and what the client can do.</summary>
internal static class ShardReplies
{
    public static readonly byte[] Ok = "+OK\r\n"u8.ToArray();

    public static readonly byte[] ExecAbortedByFailover =
        "-EXECABORT Transaction discarded because the master failed over (ClusterGate); nothing of it ran after the failover\r\n"u8.ToArray();

    public static readonly byte[] TransactionAbortedByFailover =
        "-ERR the MULTI transaction was lost when the master failed over (ClusterGate); send EXEC or DISCARD and start again\r\n"u8.ToArray();

    public static byte[] OutcomeUnknown(NodeEndpoint master) => Line(
        $"-ERR outcome unknown: the connection to master {master} was lost after the command was sent; it may or may not have run (ClusterGate)");

    public static byte[] NoReply(NodeEndpoint master, TimeSpan timeout) => Line(string.Create(CultureInfo.InvariantCulture,
        $"-ERR outcome unknown: master {master} sent no reply within {timeout.TotalMilliseconds:0} ms, so ClusterGate closed the shared connection; the command may or may not have run (ClusterGate)"));

    public static byte[] NoMaster(int groupId, TimeSpan hold) => Line(string.Create(CultureInfo.InvariantCulture,
        $"-CLUSTERDOWN shard group {groupId} has no master reachable by ClusterGate after waiting {hold.TotalMilliseconds:0} ms"));

    private static byte[] Line(string text) => Encoding.UTF8.GetBytes(text + "\r\n");
}
