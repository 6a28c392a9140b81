using System.Buffers;
using System.Globalization;
using System.Text;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Routing.Dispatch;
using ClusterGate.Core.Routing.Merge;
using ClusterGate.Core.Topology;

namespace ClusterGate.Core.Frontends.Router;

internal static partial class RouterCommands
{
    /// <summary>
    /// Commands the router's own code answers across the cluster: SCAN over every group in turn, INFO as one
    /// standalone server (keyspace summed), CONFIG GET from one master.
    /// </summary>
    private static void Special(RouterSession session, RespRequest request, CommandSpec spec, ReplySlot slot)
    {
        switch (spec.Name)
        {
            case "scan":
                Scan(session, request, slot);
                break;
            case "info":
                FanOut(session, slot, Masters(session), _ => request.ArrayFrame, ReplyMerge.Info, readOnly: true);
                break;
            case "randomkey":
                FanOut(session, slot, Masters(session), _ => request.ArrayFrame, ReplyMerge.AnyNonNull, readOnly: true);
                break;
            case "pubsub|channels" or "pubsub|shardchannels":
                // Router subscribers may be on any master (each node answers for its own clients, as in a
                // cluster): the union of every master's list. Shared connections go to masters only, so
                // clients subscribed directly on a replica are not counted.
                FanOut(session, slot, Masters(session), _ => request.ArrayFrame, ReplyMerge.UnionArrays, readOnly: true);
                break;
            case "pubsub|numsub" or "pubsub|shardnumsub":
                FanOut(session, slot, Masters(session), _ => request.ArrayFrame, ReplyMerge.SumCountsByPosition, readOnly: true);
                break;
            case "pubsub|numpat":
                FanOut(session, slot, Masters(session), _ => request.ArrayFrame, ReplyMerge.SumIntegers, readOnly: true);
                break;
            case "script|kill" or "function|kill":
                KillScripts(session, request, slot);
                break;
            default:
                FanOut(session, slot, Masters(session).Take(1).ToList(), _ => request.ArrayFrame, parts => parts[0], readOnly: true);
                break;
        }
    }

    private static List<NodeState> Masters(RouterSession session) => [.. session.Context.Dispatcher.Masters()];

    private static List<NodeState> AllNodes(RouterSession session) =>
        [.. session.Context.Dispatcher.Monitor.Current.Nodes.Where(n => !n.IsDown)];

    private static void FanOut(RouterSession session, ReplySlot slot, List<NodeState> nodes, Func<int, ReadOnlySequence<byte>> command, Func<byte[][], byte[]> combine, bool readOnly)
    {
        if (nodes.Count == 0)
        {
            session.Answer(slot, GatewayReplies.NoMasterAnywhere);
            return;
        }

        var snapshot = session.Context.Dispatcher.Monitor.Current;
        var gather = new GatherSink(slot, nodes.Count, combine);
        for (var i = 0; i < nodes.Count; i++)
        {
            var request = new RoutedCommand(command(i), -1, readOnly, session.Id, gather.Part(i))
            {
                TargetNodeId = nodes[i].Id,
                TargetGroupId = snapshot.GroupByNodeId(nodes[i].Id)?.Id,
                AnyRole = !nodes[i].IsMaster,
            };
            session.Sent(session.Context.Dispatcher.Route(request));
        }
    }

    /// <summary>
    /// SCAN over every shard group in turn, in group id order. The cursor carries the group's id (low 10
    /// bits), a 20-bit tag of the node that gave the page and that node's own cursor (the rest, below 2^63
    /// so clients that read the cursor as a signed 64-bit number work). Redis seeds its hash tables per
    /// process, so a cursor means nothing on another node: when the group's master is no longer the node
    /// that gave the page (a failover), the group is scanned again from 0 on its new master (held, like any
    /// command, while the group has none). A full scan returns every key once while the topology is stable,
    /// and every key that exists throughout at least once across a failover.
    /// </summary>
    private static void Scan(RouterSession session, RespRequest request, ReplySlot slot)
    {
        const int GroupBits = 10;
        const int TagBits = 20;
        const ulong GroupMask = (1UL << GroupBits) - 1;
        const ulong TagMask = (1UL << TagBits) - 1;
        const ulong MaxNodeCursor = (1UL << (63 - GroupBits - TagBits)) - 1;
        if (!ulong.TryParse(request.ArgumentToString(1), NumberStyles.None, CultureInfo.InvariantCulture, out var cursor))
        {
            session.Answer(slot, GatewayReplies.InvalidCursor);
            return;
        }

        var groups = session.Context.Dispatcher.Monitor.Current.Groups
            .Where(g => !g.Slots.IsDefaultOrEmpty)
            .OrderBy(g => g.Id)
            .ToList();
        if (groups.Count == 0 || groups[^1].Id > (int)GroupMask)
        {
            session.Answer(slot, groups.Count == 0
                ? GatewayReplies.NoMasterAnywhere
                : GatewayReplies.TooManyGroupsForScan);
            return;
        }

        var groupId = (int)(cursor & GroupMask);
        var tag = (cursor >> GroupBits) & TagMask;
        var nodeCursor = cursor >> (GroupBits + TagBits);
        var index = groups.FindIndex(g => g.Id >= groupId);
        if (index < 0)
        {
            session.Answer(slot, ReplyMerge.Write(RespValue.Array(RespValue.Bulk("0"), RespValue.Array())));
            return;
        }

        var group = groups[index];
        if ((group.RoutableMaster ?? group.Master) is not { } master)
        {
            session.Answer(slot, GatewayReplies.NoMaster($"shard group {group.Id}", TimeSpan.Zero));
            return;
        }

        if (group.Id != groupId || NodeTag(master.Id) != tag)
        {
            // Another group (the cursor's was retired) or another master (failover): start it from 0.
            nodeCursor = 0;
        }

        var writer = new ArrayBufferWriter<byte>();
        RespWriter.WriteArrayHeader(writer, request.Count);
        RespWriter.WriteBulkString(writer, request.Argument(0));
        RespWriter.WriteBulkString(writer, nodeCursor.ToString(CultureInfo.InvariantCulture));
        for (var i = 2; i < request.Count; i++)
        {
            RespWriter.WriteBulkString(writer, request.Argument(i));
        }

        // The page's cursor is tagged with the node asked. Had it died, the group's new master answers
        // instead; its cursor then carries the old tag, so the next page starts the group again there
        // (also when that answer's cursor is 0: the old node's cursor ended nothing on the new one).
        var pageTag = ((ulong)NodeTag(master.Id) << GroupBits) | (uint)group.Id;
        var nextGroupId = index + 1 < groups.Count ? (ulong)groups[index + 1].Id : 0;
        FanOut(session, slot, [master], _ => new ReadOnlySequence<byte>(writer.WrittenMemory), parts =>
        {
            var values = ReplyMerge.Values(parts, out var error);
            if (error is not null)
            {
                return error;
            }

            var next = ulong.Parse(values[0].Items[0].AsString(), CultureInfo.InvariantCulture);
            if (next > MaxNodeCursor)
            {
                return GatewayReplies.ScanCursorTooLarge;
            }

            // A page the group's new master answered (the command was held through the failover) came from a cursor of
            // the old one: its 0 does not mean the group is done. The next page starts the group again on the new master.
            if (next == 0 && session.Context.Dispatcher.Monitor.Current.GroupById(group.Id)?.Master?.Id != master.Id)
            {
                next = 1;
            }

            var combined = next != 0 ? (next << (GroupBits + TagBits)) | pageTag : nextGroupId;
            return ReplyMerge.Write(RespValue.Array(RespValue.Bulk(combined.ToString(CultureInfo.InvariantCulture)), values[0].Items[1]));
        }, readOnly: true);

        // Node ids are 40 hex digits: the first five are the tag (the same in every gateway instance).
        static ulong NodeTag(string nodeId) =>
            nodeId.Length >= 5 && ulong.TryParse(nodeId.AsSpan(0, 5), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
                ? value
                : 0;
    }

    /// <summary>
    /// SCRIPT KILL and FUNCTION KILL reach every master on connections of their own: a shared connection to the busy
    /// master waits behind the script, and the kill must not. One master that killed something is success.
    /// </summary>
    private static void KillScripts(RouterSession session, RespRequest request, ReplySlot slot)
    {
        var groups = session.Context.Dispatcher.Monitor.Current.Groups.Where(g => g.RoutableMaster is not null).Select(g => g.Id).ToList();
        var links = new List<RouterLink>();
        foreach (var group in groups)
        {
            if (session.OpenLink(group) is { } link)
            {
                links.Add(link);
            }
        }

        if (links.Count == 0)
        {
            session.Answer(slot, GatewayReplies.NoMasterAnywhere);
            return;
        }

        var command = request.ArrayFrame.ToArray();
        var replies = links.Select(l => l.SendAsync(command, Backends.InFlight.CommandKind.Normal, 1, readOnly: false, slot: null)).ToList();
        _ = AnswerFromLinksAsync(session, slot, links, replies, ReplyMerge.OneSucceeded);
    }
}
