using System.Buffers;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Routing.Merge;

namespace ClusterGate.Core.Routing.Split;

/// <summary>
/// A multi-key command whose keys span slots, split into one command per slot (Redis's
/// <c>request_policy:multi_shard</c>) and merged back in the client's key order: MGET (values), MSET (pairs, OK only
/// when every part is), DEL, UNLINK, EXISTS, TOUCH (counts summed). Other multi-key commands keep Redis's
/// <c>-CROSSSLOT</c>: splitting them would change what they mean (MSETNX is all or nothing).
/// </summary>
internal sealed class KeySplit
{
    private readonly SplitKind _kind;
    private readonly int _step;
    private readonly int _keyCount;
    private readonly int[] _slots;
    private readonly List<int>[] _positions;

    private KeySplit(SplitKind kind, int step, int keyCount, int[] slots, List<int>[] positions)
    {
        _kind = kind;
        _step = step;
        _keyCount = keyCount;
        _slots = slots;
        _positions = positions;
    }

    private enum SplitKind
    {
        Values,
        Pairs,
        Sum,
    }

    public int Parts => _slots.Length;

    public int SlotOf(int part) => _slots[part];

    /// <summary>The split of <paramref name="request"/> by slot, parts in order of first appearance; null when it is not split.</summary>
    public static KeySplit? TryPlan(RespRequest request, CommandSpec spec)
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
                return null;
        }

        var step = kind == SplitKind.Pairs ? 2 : 1;
        if ((request.Count - 1) % step != 0)
        {
            return null;
        }

        // Few keys (the usual case): a linear search beats a dictionary.
        var keyCount = (request.Count - 1) / step;
        var slots = new List<int>(Math.Min(keyCount, 16));
        var positions = new List<List<int>>(Math.Min(keyCount, 16));
        Dictionary<int, int>? partOfSlot = keyCount > 16 ? new Dictionary<int, int>(keyCount) : null;
        for (var i = 1; i < request.Count; i += step)
        {
            var keySlot = HashSlot.Compute(request.Argument(i));
            var part = partOfSlot is null ? slots.IndexOf(keySlot) : partOfSlot.GetValueOrDefault(keySlot, -1);
            if (part < 0)
            {
                part = slots.Count;
                slots.Add(keySlot);
                positions.Add([]);
                partOfSlot?.Add(keySlot, part);
            }

            positions[part].Add(i);
        }

        return new KeySplit(kind, step, keyCount, [.. slots], [.. positions]);
    }

    /// <summary>Writes part <paramref name="part"/>: the command name and its keys (and values) of one slot, in the client's order.</summary>
    public void WritePart(int part, RespRequest request, IBufferWriter<byte> writer)
    {
        RespWriter.WriteArrayHeader(writer, 1 + (_positions[part].Count * _step));
        RespWriter.WriteBulkString(writer, request.Argument(0));
        foreach (var position in _positions[part])
        {
            RespWriter.WriteBulkString(writer, request.Argument(position));
            if (_step == 2)
            {
                RespWriter.WriteBulkString(writer, request.Argument(position + 1));
            }
        }
    }

    /// <summary>The client's reply from the parts' replies (in part order).</summary>
    public byte[] Merge(byte[][] parts)
    {
        if (_kind != SplitKind.Values && TryMergeSimple(parts, out var simple))
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
            return GatewayReplies.PartsFailed(firstError.AsString(), failed, parts.Length, othersWritten: _kind == SplitKind.Pairs && failed < parts.Length);
        }

        switch (_kind)
        {
            case SplitKind.Values:
                var merged = new RespValue[_keyCount];
                for (var part = 0; part < values.Length; part++)
                {
                    if (values[part].Items is not { } items || items.Count != _positions[part].Count)
                    {
                        throw new InvalidDataException($"part {part + 1} answered {values[part].Type} instead of {_positions[part].Count} values");
                    }

                    for (var j = 0; j < _positions[part].Count; j++)
                    {
                        merged[(_positions[part][j] - 1) / _step] = values[part].Items[j];
                    }
                }

                return ReplyMerge.Write(RespValue.Array(merged));
            case SplitKind.Pairs:
                return GatewayReplies.Ok;
            default:
                return ReplyMerge.Write(RespValue.Int(values.Sum(v => v.Integer)));
        }
    }

    /// <summary>
    /// MSET parts answer +OK and DEL/UNLINK/EXISTS/TOUCH parts an integer: merged straight from the bytes. False for
    /// anything else (an error part, RESP3 or an unexpected reply): the general merge decides.
    /// </summary>
    private bool TryMergeSimple(byte[][] parts, out byte[] merged)
    {
        merged = [];
        long sum = 0;
        foreach (var part in parts)
        {
            if (part.Length < 3 || part[^2] != (byte)'\r' || part[^1] != (byte)'\n')
            {
                return false;
            }

            if (_kind == SplitKind.Pairs)
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

        merged = _kind == SplitKind.Pairs ? GatewayReplies.Ok : System.Text.Encoding.ASCII.GetBytes(string.Create(System.Globalization.CultureInfo.InvariantCulture, $":{sum}\r\n"));
        return true;
    }
}
