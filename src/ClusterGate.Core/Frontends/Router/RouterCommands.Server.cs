using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Routing.Dispatch;
using ClusterGate.Core.Topology;

namespace ClusterGate.Core.Frontends.Router;

internal static partial class RouterCommands
{
    /// <summary>
    /// Server commands answered as one standalone Redis would: DBSIZE summed, KEYS and SCAN over every
    /// master, FLUSHALL/FLUSHDB, SCRIPT and FUNCTION changes on every master, CONFIG GET from one
    /// master and CONFIG SET on every node, INFO with the keyspace summed and standalone mode.
    /// </summary>
    private static bool TryServerCommand(RouterSession session, RespRequest request, CommandSpec spec, ReplySlot slot)
    {
        switch (spec.Name)
        {
            case "dbsize":
                FanOut(session, slot, Masters(session), _ => request.ArrayFrame, SumIntegers, readOnly: true);
                return true;
            case "keys":
                FanOut(session, slot, Masters(session), _ => request.ArrayFrame, ConcatArrays, readOnly: true);
                return true;
            case "flushall" or "flushdb" or "script|flush" or "function|flush" or "function|delete":
                FanOut(session, slot, Masters(session), _ => request.ArrayFrame, AllOk, readOnly: false);
                return true;
            case "script|load" or "function|load":
                FanOut(session, slot, Masters(session), _ => request.ArrayFrame, FirstIfAllEqual, readOnly: false);
                return true;
            case "script|exists":
                FanOut(session, slot, Masters(session), _ => request.ArrayFrame, AndIntegerArrays, readOnly: true);
                return true;
            case "config|set":
                FanOut(session, slot, AllNodes(session), _ => request.ArrayFrame, AllOk, readOnly: false);
                return true;
            case "config|get":
                FanOut(session, slot, Masters(session).Take(1).ToList(), _ => request.ArrayFrame, parts => parts[0], readOnly: true);
                return true;
            case "info":
                FanOut(session, slot, Masters(session), _ => request.ArrayFrame, MergeInfo, readOnly: true);
                return true;
            case "scan":
                Scan(session, request, slot);
                return true;
            default:
                return false;
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
            };
            session.Sent(session.Context.Dispatcher.Route(request));
        }
    }

    private static RespValue[] Values(byte[][] parts, out byte[]? error)
    {
        error = null;
        var values = new RespValue[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(parts[i]));
            if (RespValue.TryRead(ref reader, RespLimits.Default, out var value, out var readError) != RespScanStatus.Complete || value is null)
            {
                throw new InvalidDataException(readError ?? "incomplete reply");
            }

            if (value.Type == RespType.Error && error is null)
            {
                error = parts[i];
            }

            values[i] = value;
        }

        return values;
    }

    private static byte[] Write(RespValue value)
    {
        var writer = new ArrayBufferWriter<byte>();
        RespWriter.WriteValue(writer, value);
        return writer.WrittenSpan.ToArray();
    }

    private static byte[] SumIntegers(byte[][] parts)
    {
        var values = Values(parts, out var error);
        return error ?? Write(RespValue.Int(values.Sum(v => v.Integer)));
    }

    private static byte[] ConcatArrays(byte[][] parts)
    {
        var values = Values(parts, out var error);
        return error ?? Write(RespValue.Array([.. values.SelectMany(v => v.Items)]));
    }

    private static byte[] AllOk(byte[][] parts)
    {
        _ = Values(parts, out var error);
        return error ?? GatewayReplies.Ok;
    }

    private static byte[] FirstIfAllEqual(byte[][] parts)
    {
        var values = Values(parts, out var error);
        if (error is not null)
        {
            return error;
        }

        return values.All(v => v.Equals(values[0])) ? parts[0] : GatewayReplies.MastersDisagree;
    }

    private static byte[] AndIntegerArrays(byte[][] parts)
    {
        var values = Values(parts, out var error);
        if (error is not null)
        {
            return error;
        }

        var count = values[0].Items.Count;
        var result = new RespValue[count];
        for (var i = 0; i < count; i++)
        {
            result[i] = RespValue.Int(values.All(v => v.Items.Count > i && v.Items[i].Integer == 1) ? 1 : 0);
        }

        return Write(RespValue.Array(result));
    }

    [GeneratedRegex(@"^db(\d+):keys=(\d+),expires=(\d+),avg_ttl=(\d+)", RegexOptions.Multiline)]
    private static partial Regex KeyspaceLine();

    /// <summary>The first master's INFO, as a standalone server would say it, with every master's keyspace summed.</summary>
    private static byte[] MergeInfo(byte[][] parts)
    {
        var values = Values(parts, out var error);
        if (error is not null)
        {
            return error;
        }

        var text = values[0].AsString()
            .Replace("redis_mode:cluster", "redis_mode:standalone", StringComparison.Ordinal)
            .Replace("cluster_enabled:1", "cluster_enabled:0", StringComparison.Ordinal);
        var totals = new SortedDictionary<int, (long Keys, long Expires, long TtlWeighted)>();
        foreach (var value in values)
        {
            foreach (Match m in KeyspaceLine().Matches(value.AsString()))
            {
                var db = int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture);
                var keys = long.Parse(m.Groups[2].ValueSpan, CultureInfo.InvariantCulture);
                var expires = long.Parse(m.Groups[3].ValueSpan, CultureInfo.InvariantCulture);
                var ttl = long.Parse(m.Groups[4].ValueSpan, CultureInfo.InvariantCulture);
                var t = totals.GetValueOrDefault(db);
                totals[db] = (t.Keys + keys, t.Expires + expires, t.TtlWeighted + (ttl * expires));
            }
        }

        var keyspace = new StringBuilder();
        foreach (var (db, t) in totals)
        {
            keyspace.Append(CultureInfo.InvariantCulture, $"db{db}:keys={t.Keys},expires={t.Expires},avg_ttl={(t.Expires == 0 ? 0 : t.TtlWeighted / t.Expires)}\r\n");
        }

        text = KeyspaceLine().Replace(text, string.Empty);
        text = Regex.Replace(text, @"(\r?\n)+(?=\r?\n|$)", "\r\n");
        var marker = text.IndexOf("# Keyspace", StringComparison.Ordinal);
        if (marker >= 0)
        {
            var end = text.IndexOf('\n', marker);
            text = text[..(end + 1)] + keyspace + text[(end + 1)..];
        }

        return Bulk(text);
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
            session.Answer(slot, Write(RespValue.Array(RespValue.Bulk("0"), RespValue.Array())));
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
        // instead; its cursor then carries the old tag, so the next page starts the group again there.
        var pageTag = ((ulong)NodeTag(master.Id) << GroupBits) | (uint)group.Id;
        var nextGroupId = index + 1 < groups.Count ? (ulong)groups[index + 1].Id : 0;
        FanOut(session, slot, [master], _ => new ReadOnlySequence<byte>(writer.WrittenMemory), parts =>
        {
            var values = Values(parts, out var error);
            if (error is not null)
            {
                return error;
            }

            var next = ulong.Parse(values[0].Items[0].AsString(), CultureInfo.InvariantCulture);
            if (next > MaxNodeCursor)
            {
                return GatewayReplies.ScanCursorTooLarge;
            }

            var combined = next != 0 ? (next << (GroupBits + TagBits)) | pageTag : nextGroupId;
            return Write(RespValue.Array(RespValue.Bulk(combined.ToString(CultureInfo.InvariantCulture)), values[0].Items[1]));
        }, readOnly: true);

        // Node ids are 40 hex digits: the first five are the tag (the same in every gateway instance).
        static ulong NodeTag(string nodeId) =>
            nodeId.Length >= 5 && ulong.TryParse(nodeId.AsSpan(0, 5), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value)
                ? value
                : 0;
    }
}
