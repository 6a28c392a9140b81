using System.Buffers;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Routing.Dispatch;

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

        // Group key positions by slot, keeping the client's order inside each group; parts in order of
        // first appearance. Few keys (the usual case): a linear search beats a dictionary.
        var keyCount = (request.Count - 1) / step;
        var partSlots = new List<int>(Math.Min(keyCount, 16));
        var partPositions = new List<List<int>>(Math.Min(keyCount, 16));
        Dictionary<int, int>? partOfSlot = keyCount > 16 ? new Dictionary<int, int>(keyCount) : null;
        for (var i = 1; i < request.Count; i += step)
        {
            var keySlot = HashSlot.Compute(request.Argument(i));
            var part = partOfSlot is null ? partSlots.IndexOf(keySlot) : partOfSlot.GetValueOrDefault(keySlot, -1);
            if (part < 0)
            {
                part = partSlots.Count;
                partSlots.Add(keySlot);
                partPositions.Add([]);
                partOfSlot?.Add(keySlot, part);
            }

            partPositions[part].Add(i);
        }

        var name = request.Argument(0);
        var readOnly = spec.HasFlag(CommandSpecFlags.ReadOnly) && !spec.HasFlag(CommandSpecFlags.Write);
        var positions = partPositions.ToArray();
        var gather = new GatherSink(slot, positions.Length, parts => Merge(kind, parts, positions, keyCount, step));
        var writer = new ArrayBufferWriter<byte>(256);
        for (var part = 0; part < positions.Length; part++)
        {
            writer.ResetWrittenCount();
            RespWriter.WriteArrayHeader(writer, 1 + (positions[part].Count * step));
            RespWriter.WriteBulkString(writer, name);
            foreach (var position in positions[part])
            {
                RespWriter.WriteBulkString(writer, request.Argument(position));
                if (step == 2)
                {
                    RespWriter.WriteBulkString(writer, request.Argument(position + 1));
                }
            }

            var routed = new RoutedCommand(new ReadOnlySequence<byte>(writer.WrittenMemory), partSlots[part], readOnly, session.Id, gather.Part(part));
            session.Sent(session.Context.Dispatcher.Route(routed));
        }

        return true;
    }

    private static byte[] Merge(SplitKind kind, byte[][] parts, List<int>[] positions, int keyCount, int step)
    {
        if (kind != SplitKind.Values && TryMergeSimple(kind, parts, out var simple))
        {
            return simple;
        }

        var values = new RespValue[parts.Length];
        RespValue? firstError = null;
        var failed = 0;
        for (var i = 0; i < parts.Length; i++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(parts[i]));
            if (RespValue.TryRead(ref reader, RespLimits.Default, out var value, out var error) != RespScanStatus.Complete || value is null)
            {
                throw new InvalidDataException(error ?? "incomplete part reply");
            }

            if (value.Type is RespType.Error)
            {
                firstError ??= value;
                failed++;
            }

            values[i] = value;
        }

        if (firstError is not null)
        {
            // The first failing part's error, and how much of the command it affects.
            return GatewayReplies.PartsFailed(firstError.AsString(), failed, parts.Length, othersWritten: kind == SplitKind.Pairs && failed < parts.Length);
        }

        var writer = new ArrayBufferWriter<byte>();
        switch (kind)
        {
            case SplitKind.Values:
                var merged = new RespValue[keyCount];
                for (var part = 0; part < values.Length; part++)
                {
                    if (values[part].Items is not { } items || items.Count != positions[part].Count)
                    {
                        throw new InvalidDataException($"part {part + 1} answered {values[part].Type} instead of {positions[part].Count} values");
                    }

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

    /// <summary>
    /// MSET parts answer +OK and DEL/UNLINK/EXISTS/TOUCH parts an integer: merged straight from the bytes.
    /// False for anything else (an error part, RESP3 or an unexpected reply): the general merge decides.
    /// </summary>
    private static bool TryMergeSimple(SplitKind kind, byte[][] parts, out byte[] merged)
    {
        merged = [];
        long sum = 0;
        foreach (var part in parts)
        {
            if (part.Length < 3 || part[^2] != (byte)'\r' || part[^1] != (byte)'\n')
            {
                return false;
            }

            if (kind == SplitKind.Pairs)
            {
                if (!part.AsSpan().SequenceEqual(GatewayReplies.Ok))
                {
                    return false;
                }
            }
            else if (part[0] != (byte)':' || !System.Buffers.Text.Utf8Parser.TryParse(part.AsSpan(1, part.Length - 3), out long value, out var used) || used != part.Length - 3)
            {
                return false;
            }
            else
            {
                sum += value;
            }
        }

        merged = kind == SplitKind.Pairs ? GatewayReplies.Ok : System.Text.Encoding.ASCII.GetBytes(string.Create(System.Globalization.CultureInfo.InvariantCulture, $":{sum}\r\n"));
        return true;
    }
}
