using System.Globalization;
using System.Text;
using ClusterGate.Core.Resp;
namespace ClusterGate.Core.Resp;

/// <summary>
/// Every reply the gateway writes itself, in one place (as Garnet's <c>CmdStrings</c>): one wording per situation.
/// Where Redis has the situation, Redis's own text; where only the gateway has it, a text that says what happened
/// and what the client can do, ending in <c>(ClusterGate)</c>. Anything echoed back has CR and LF replaced.
/// </summary>
internal static class GatewayReplies
{
    private const string Suffix = " (ClusterGate)";

    public static readonly byte[] Ok = "+OK\r\n"u8.ToArray();

    public static readonly byte[] Pong = "+PONG\r\n"u8.ToArray();

    public static readonly byte[] Reset = "+RESET\r\n"u8.ToArray();

    public static readonly byte[] NullBulk = "$-1\r\n"u8.ToArray();

    /// <summary>Redis's text past <c>maxclients</c>.</summary>
    public static readonly byte[] MaxClientsReached = "-ERR max number of clients reached\r\n"u8.ToArray();

    /// <summary>Redis's text for keys of several slots in one command.</summary>
    public static readonly byte[] CrossSlot = "-CROSSSLOT Keys in request don't hash to the same slot\r\n"u8.ToArray();

    /// <summary>What a server with cluster mode off answers to CLUSTER: the router looks standalone.</summary>
    public static readonly byte[] ClusterSupportDisabled = "-ERR This instance has cluster support disabled\r\n"u8.ToArray();

    public static readonly byte[] AuthWithoutPassword =
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"u8.ToArray();

    public static readonly byte[] WrongPass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n"u8.ToArray();

    /// <summary>Redis's reply to a command from a connection that has not authenticated.</summary>
    public static readonly byte[] NoAuth = "-NOAUTH Authentication required.\r\n"u8.ToArray();

    /// <summary>Redis 7.0's reply to HELLO without AUTH from a connection that has not authenticated.</summary>
    public static readonly byte[] NoAuthHello =
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"u8.ToArray();

    public static readonly byte[] NoProto = "-NOPROTO unsupported protocol version\r\n"u8.ToArray();

    public static readonly byte[] InvalidCursor = "-ERR invalid cursor\r\n"u8.ToArray();

    public static readonly byte[] ExecAbortedByFailover = Line(
        "-EXECABORT Transaction discarded because the master failed over; nothing of it ran after the failover" + Suffix);

    public static readonly byte[] TransactionLostByFailover = Line(
        "-ERR the MULTI transaction was lost when the master failed over; send EXEC or DISCARD and start again" + Suffix);

    /// <summary>Redis's protocol error, closing the connection after it.</summary>
    public static byte[] ProtocolError(string detail) => Error("ERR " + detail);

    public static byte[] UnknownCommand(string name, string argumentsPreview) =>
        Error($"ERR unknown command '{name}', with args beginning with: {argumentsPreview}");

    /// <summary>Redis's reply to a command it does not know: the name and the first arguments, each cut at 128 characters.</summary>
    public static byte[] UnknownCommand(RespRequest request)
    {
        var preview = new System.Text.StringBuilder();
        for (var i = 1; i < request.Count && preview.Length < 128; i++)
        {
            preview.Append('\'').Append(Truncate(request.ArgumentToString(i))).Append("' ");
        }

        return UnknownCommand(Truncate(request.ArgumentToString(0)), preview.ToString());
    }

    /// <summary>What Redis echoes of a client's argument in an error: at most 128 characters.</summary>
    public static string Truncate(string text) => text.Length > 128 ? text[..128] : text;

    public static byte[] WrongArity(string command) => Error($"ERR wrong number of arguments for '{command}' command");

    /// <summary>The command was sent and the connection died (or went silent) before its reply: it may have run.</summary>
    public static byte[] OutcomeUnknown(string master) => Error(
        $"ERR outcome unknown: the connection to master {master} was lost after the command was sent; it may or may not have run" + Suffix);

    public static byte[] NoReply(string master, TimeSpan timeout) => Error(string.Create(CultureInfo.InvariantCulture,
        $"ERR outcome unknown: master {master} sent no reply within {timeout.TotalMilliseconds:0} ms, so the shared connection was closed; the command may or may not have run{Suffix}"));

    /// <summary>No confirmed master for <paramref name="subject"/> ("shard group 2", "slot 1234") within the hold time.</summary>
    public static byte[] NoMaster(string subject, TimeSpan waited) => Error(string.Create(CultureInfo.InvariantCulture,
        $"CLUSTERDOWN {subject} has no master reachable after waiting {waited.TotalMilliseconds:0} ms{Suffix}"));

    /// <summary>No confirmed master at all right now (a command that needs every master).</summary>
    public static readonly byte[] NoMasterAnywhere = Line("-CLUSTERDOWN no shard group has a master reachable now" + Suffix);

    public static byte[] SelectNotZero { get; } = Error("ERR the router serves a Redis Cluster, which has only database 0" + Suffix);

    public static byte[] KeysNotFound(string command) => Error($"ERR the keys of '{command}' could not be found in this request" + Suffix);

    public static byte[] RefusedOnSharedConnection(string command, string why) => Error($"ERR '{command}' {why}" + Suffix);

    /// <summary>A command the router never runs: it would change a node for every client (replication, shutdown, DEBUG...).</summary>
    public static byte[] RefusedOnRouter(string command) =>
        Error($"ERR {command} is not available through the router: it changes a node for every client of the cluster; run it on the node itself" + Suffix);

    /// <summary>Redis's text for a command sent by a RESP2 client in subscribed mode.</summary>
    public static byte[] OnlySubscribeCommands(string command) =>
        Error($"ERR Can't execute '{command.ToLowerInvariant()}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context");

    public static readonly byte[] Queued = "+QUEUED\r\n"u8.ToArray();

    public static readonly byte[] NestedMulti = "-ERR MULTI calls can not be nested\r\n"u8.ToArray();

    public static readonly byte[] ExecWithoutMulti = "-ERR EXEC without MULTI\r\n"u8.ToArray();

    public static readonly byte[] DiscardWithoutMulti = "-ERR DISCARD without MULTI\r\n"u8.ToArray();

    public static readonly byte[] WatchInsideMulti = "-ERR WATCH inside MULTI is not allowed\r\n"u8.ToArray();

    public static readonly byte[] ExecAbortedByErrors = "-EXECABORT Transaction discarded because of previous errors.\r\n"u8.ToArray();

    /// <summary>A command the router cannot put in a transaction batch (it would not run on one master's connection).</summary>
    public static byte[] NotInTransaction(string command) =>
        Error($"ERR '{command}' cannot be part of a transaction through the router: it does not run on one master's connection" + Suffix);

    /// <summary>Too many connections of clients' own to one master (blocking commands, watches, subscriptions).</summary>
    public static byte[] TooManyOwnConnections(string command) =>
        Error($"ERR '{command}' needs a connection of its own and the router holds its most to that master now; retry later" + Suffix);

    public static byte[] ClientSubcommandNotSupported(string subcommand)
    {
        var why = subcommand switch
        {
            "PAUSE" or "UNPAUSE" => ": it would pause the nodes for every client of the cluster, not only this router's; run it on the nodes themselves",
            "KILL" => ": the router's connections to the nodes are shared by its clients; close the client's connection to the router instead",
            "UNBLOCK" => ": a router client's blocking command runs on a connection of its own, which CLIENT ID does not name",
            _ => string.Empty,
        };
        return Error($"ERR CLIENT {subcommand} is not supported by the router{why}" + Suffix);
    }

    public static byte[] MergeFailed(string why) => Error("ERR the replies of the masters could not be merged: " + why + Suffix);

    public static byte[] ScanCursorTooLarge { get; } = Error("ERR a master's SCAN cursor is too large for the router's cursor" + Suffix);

    public static byte[] TooManyGroupsForScan { get; } = Error("ERR the cluster has shard group ids above what a SCAN cursor of the router can carry" + Suffix);

    /// <summary>A split command whose parts did not all succeed: the first failing part's error, and how much it affects.</summary>
    public static byte[] PartsFailed(string firstError, int failed, int parts, bool othersWritten) => Error(string.Create(CultureInfo.InvariantCulture,
        $"{firstError} (ClusterGate: {failed} of {parts} per-slot parts failed or were not run{(othersWritten ? "; the other parts' keys were set" : string.Empty)})"));

    /// <summary><c>-MESSAGE\r\n</c> with CR and LF in the message replaced by spaces.</summary>
    public static byte[] Error(string message) => Line("-" + message);

    private static byte[] Line(string text) => Encoding.UTF8.GetBytes(text.Replace('\r', ' ').Replace('\n', ' ') + "\r\n");
}
