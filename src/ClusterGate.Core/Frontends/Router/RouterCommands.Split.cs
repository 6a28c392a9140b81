using System.Buffers;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Routing.Commands;

namespace ClusterGate.Core.Frontends.Router;

internal static partial class RouterCommands
{
    private enum SplitKind
    {
        Values,
        Pairs,
        Sum,
    }

    /// <summary>
    /// MGET, MSET, DEL, UNLINK, EXISTS and TOUCH whose keys span slots: one command per slot, sent in
    /// parallel, merged in the client's order. False for other commands (they get CROSSSLOT).
    /// </summary>
    private static bool TrySplit(RouterSession session, RespRequest request, CommandSpec spec, ReplySlot slot)
    {
        SplitKind kind;
        switch (spec.Name)
        {
            case "mget":
                kind = SplitKind.Values;
                break;
            case "mset":
                kind = SplitKind.Pairs;
                break;
            case "del" or "unlink" or "exists" or "touch":
                kind = SplitKind.Sum;
                break;
            default:
                return false;
        }

        var step = kind == SplitKind.Pairs ? 2 : 1;
        if ((request.Count - 1) % step != 0)
        {
            return false;
        }

        // Group key positions by slot, keeping the client's order inside each group.
        var groups = new Dictionary<int, List<int>>();
        var order = new List<int>();
        for (var i = 1; i < request.Count; i += step)
        {
            var keySlot = HashSlot.Compute(request.Argument(i));
            if (!groups.TryGetValue(keySlot, out var positions))
            {
                groups[keySlot] = positions = [];
                order.Add(keySlot);
            }

            positions.Add(i);
        }

        var name = request.Argument(0);
        var readOnly = spec.HasFlag(CommandSpecFlags.ReadOnly) && !spec.HasFlag(CommandSpecFlags.Write);
        var partPositions = order.Select(s => groups[s]).ToArray();
        var keyCount = (request.Count - 1) / step;
        var gather = new GatherSink(slot, order.Count, parts => Merge(kind, parts, partPositions, keyCount, step));
        for (var part = 0; part < order.Count; part++)
        {
            var writer = new ArrayBufferWriter<byte>();
            var positions = partPositions[part];
            RespWriter.WriteArrayHeader(writer, 1 + (positions.Count * step));
            RespWriter.WriteBulkString(writer, name);
            foreach (var position in positions)
            {
                RespWriter.WriteBulkString(writer, request.Argument(position));
                if (step == 2)
                {
                    RespWriter.WriteBulkString(writer, request.Argument(position + 1));
                }
            }

            var routed = new RouterRequest(new ReadOnlySequence<byte>(writer.WrittenMemory), order[part], readOnly, session.Id, gather.Part(part));
            session.Touch(session.Context.Dispatcher.Route(routed));
        }

        return true;
    }

    private static byte[] Merge(SplitKind kind, byte[][] parts, List<int>[] positions, int keyCount, int step)
    {
        var values = new RespValue[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(parts[i]));
            if (RespValue.TryRead(ref reader, RespLimits.Default, out var value, out var error) != RespScanStatus.Complete || value is null)
            {
                throw new InvalidDataException(error ?? "incomplete part reply");
            }

            if (value.Type is RespType.Error)
            {
                // The first failing part decides; name how much of the command is affected.
                return Error($"{value.AsString()} (ClusterGate: {i + 1} of {parts.Length} per-slot parts failed or were not run{(kind == SplitKind.Pairs ? "; the other parts' keys were set" : string.Empty)})");
            }

            values[i] = value;
        }

        var writer = new ArrayBufferWriter<byte>();
        switch (kind)
        {
            case SplitKind.Values:
                var merged = new RespValue[keyCount];
                for (var part = 0; part < values.Length; part++)
                {
                    for (var j = 0; j < positions[part].Count; j++)
                    {
                        merged[(positions[part][j] - 1) / step] = values[part].Items[j];
                    }
                }

                RespWriter.WriteValue(writer, RespValue.Array(merged));
                break;
            case SplitKind.Pairs:
                RespWriter.WriteSimpleString(writer, "OK"u8);
                break;
            default:
                RespWriter.WriteInteger(writer, values.Sum(v => v.Integer));
                break;
        }

        return writer.WrittenSpan.ToArray();
    }
}
