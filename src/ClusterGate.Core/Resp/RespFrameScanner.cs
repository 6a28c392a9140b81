using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace ClusterGate.Core.Resp;

/// <summary>
/// Finds the boundary of one RESP2/RESP3 frame (one top-level value; an attribute travels with the value it
/// annotates) and validates it, without materializing anything. Used on reply streams and by
/// <see cref="RespValue.TryRead"/>.
/// </summary>
public static class RespFrameScanner
{
    internal const string InvalidBulkLength = "Protocol error: invalid bulk length";
    internal const string InvalidMultibulkLength = "Protocol error: invalid multibulk length";
    internal const string BulkNotTerminated = "Protocol error: bulk payload not followed by CRLF";
    internal const string NestingTooDeep = "Protocol error: nesting too deep";

    /// <summary>
    /// Scans one frame starting at the reader's position. On <see cref="RespScanStatus.Complete"/> the reader is
    /// just past the frame and <paramref name="state"/> is reset. On <see cref="RespScanStatus.Incomplete"/>
    /// <paramref name="state"/> remembers the progress: call again with a reader over the grown buffer, starting at
    /// the same frame start. After Incomplete or Error the reader's position is unspecified (scan a copy).
    /// </summary>
    public static RespScanStatus TryScan(ref SequenceReader<byte> reader, RespLimits limits, ref RespScanState state, out string? error)
    {
        ArgumentNullException.ThrowIfNull(limits);
        error = null;
        long frameStart = reader.Consumed;
        if (!state.Active)
        {
            state.Begin();
        }
        else if (state.Consumed > 0)
        {
            if (reader.Remaining < state.Consumed)
            {
                ThrowBufferShrank();
            }

            reader.Advance(state.Consumed);
        }

        RespScanStatus status;
        while (true)
        {
            if (state.PendingBulk != 0)
            {
                status = ScanBulkPayload(ref reader, ref state, out error);
            }
            else if (state.Depth == 0 && state.Remaining[0] == 0)
            {
                state.Reset();
                return RespScanStatus.Complete;
            }
            else
            {
                status = ScanValueHeader(ref reader, limits, ref state, out error);
            }

            if (status != RespScanStatus.Complete)
            {
                break;
            }

            state.Consumed = reader.Consumed - frameStart;
        }

        if (status == RespScanStatus.Error)
        {
            state.Reset();
        }

        return status;
    }

    private static RespScanStatus ScanBulkPayload(ref SequenceReader<byte> reader, ref RespScanState state, out string? error)
    {
        error = null;
        long needed = state.PendingBulk;
        long available = reader.Remaining;
        if (available < needed)
        {
            // The CR may already be there and wrong.
            if (available > needed - 2)
            {
                reader.Advance(needed - 2);
                if (!reader.IsNext((byte)'\r'))
                {
                    error = BulkNotTerminated;
                    return RespScanStatus.Error;
                }
            }

            return RespScanStatus.Incomplete;
        }

        reader.Advance(needed - 2);
        if (!reader.IsNext("\r\n"u8, advancePast: true))
        {
            error = BulkNotTerminated;
            return RespScanStatus.Error;
        }

        state.PendingBulk = 0;
        return RespScanStatus.Complete;
    }

    private static RespScanStatus ScanValueHeader(ref SequenceReader<byte> reader, RespLimits limits, ref RespScanState state, out string? error)
    {
        error = null;
        if (!reader.TryPeek(out byte prefix))
        {
            return RespScanStatus.Incomplete;
        }

        switch (prefix)
        {
            case (byte)'+':
            case (byte)'-':
            case (byte)'(':
                return ScanTextLine(ref reader, limits, ref state, prefix, out error);
            case (byte)'$':
            case (byte)'!':
            case (byte)'=':
            case (byte)'*':
            case (byte)'~':
            case (byte)'>':
            case (byte)'%':
            case (byte)'|':
            case (byte)':':
            case (byte)',':
            case (byte)'#':
            case (byte)'_':
                return ScanNumberLine(ref reader, limits, ref state, prefix, out error);
            default:
                error = InvalidTypeByte(prefix);
                return RespScanStatus.Error;
        }
    }

    private static RespScanStatus ScanNumberLine(ref SequenceReader<byte> reader, RespLimits limits, ref RespScanState state, byte prefix, out string? error)
    {
        error = null;
        Span<byte> buffer = stackalloc byte[RespNumber.MaxLineLength + 3];
        RespNumber.LineStatus line = RespNumber.PeekLine(reader, buffer, out int length);
        bool complete = line == RespNumber.LineStatus.Complete;
        ReadOnlySpan<byte> content = buffer.Slice(1, line == RespNumber.LineStatus.Malformed ? 0 : length);
        bool valid = line != RespNumber.LineStatus.Malformed;
        long count = 0;
        switch (prefix)
        {
            case (byte)'$':
            case (byte)'!':
            case (byte)'=':
                valid = valid && RespNumber.TryParseLength(content, complete, allowNull: prefix == '$', limits.MaxBulkLength, out count)
                    && (!complete || prefix != '=' || count >= 4);
                error = valid ? null : InvalidBulkLength;
                break;
            case (byte)'*':
            case (byte)'~':
            case (byte)'>':
            case (byte)'%':
            case (byte)'|':
                valid = valid && RespNumber.TryParseLength(content, complete, allowNull: prefix == '*', limits.MaxArrayLength, out count);
                error = valid ? null : InvalidMultibulkLength;
                break;
            case (byte)':':
                valid = valid && RespNumber.TryParseInteger(content, complete, out _);
                error = valid ? null : "Protocol error: invalid integer";
                break;
            case (byte)',':
                valid = valid && RespNumber.TryParseDouble(content, complete, out _);
                error = valid ? null : "Protocol error: invalid double";
                break;
            case (byte)'#':
                valid = valid && (content.IsEmpty ? !complete : content.Length == 1 && (content[0] == 't' || content[0] == 'f'));
                error = valid ? null : "Protocol error: invalid boolean";
                break;
            default:
                valid = valid && content.IsEmpty;
                error = valid ? null : "Protocol error: invalid null";
                break;
        }

        if (!valid)
        {
            return RespScanStatus.Error;
        }

        if (!complete)
        {
            return RespScanStatus.Incomplete;
        }

        reader.Advance(length + 3);
        switch (prefix)
        {
            case (byte)'$' or (byte)'!' or (byte)'=' when count >= 0:
                state.PendingBulk = count + 2;
                CountValue(ref state);
                return RespScanStatus.Complete;
            case (byte)'*' or (byte)'~' or (byte)'>' when count > 0:
                return Push(ref state, limits, count, out error);
            case (byte)'%' when count > 0:
                return Push(ref state, limits, count * 2, out error);
            case (byte)'|':
                return count > 0 ? PushAttribute(ref state, limits, count * 2, out error) : RespScanStatus.Complete;
            default:
                CountValue(ref state);
                return RespScanStatus.Complete;
        }
    }

    /// <summary>Simple string, error or big number: no length prefix, so progress is kept for long lines.</summary>
    private static RespScanStatus ScanTextLine(ref SequenceReader<byte> reader, RespLimits limits, ref RespScanState state, byte prefix, out string? error)
    {
        error = null;
        bool bigNumber = prefix == '(';
        SequenceReader<byte> start = reader;
        long checkedLength = state.LineChecked;
        reader.Advance(1 + checkedLength);
        while (true)
        {
            ReadOnlySpan<byte> span = reader.UnreadSpan;
            if (span.IsEmpty)
            {
                state.LineChecked = checkedLength;
                return RespScanStatus.Incomplete;
            }

            int stop;
            if (bigNumber)
            {
                int from = checkedLength == 0 && (span[0] == '-' || span[0] == '+') ? 1 : 0;
                stop = span[from..].IndexOfAnyExceptInRange((byte)'0', (byte)'9');
                stop = stop < 0 ? -1 : stop + from;
            }
            else
            {
                stop = span.IndexOfAny((byte)'\r', (byte)'\n');
            }

            long seen = stop < 0 ? span.Length : stop;
            checkedLength += seen;
            if (checkedLength > limits.MaxBulkLength)
            {
                error = "Protocol error: too long simple string";
                return RespScanStatus.Error;
            }

            reader.Advance(seen);
            if (stop < 0)
            {
                continue;
            }

            if (span[stop] != '\r')
            {
                error = InvalidTextLine(prefix);
                return RespScanStatus.Error;
            }

            if (!reader.TryPeek(1, out byte lineFeed))
            {
                state.LineChecked = checkedLength;
                return RespScanStatus.Incomplete;
            }

            if (lineFeed != '\n' || (bigNumber && !HasDigit(start, checkedLength)))
            {
                error = InvalidTextLine(prefix);
                return RespScanStatus.Error;
            }

            reader.Advance(2);
            state.LineChecked = 0;
            CountValue(ref state);
            return RespScanStatus.Complete;
        }
    }

    private static bool HasDigit(SequenceReader<byte> start, long length)
    {
        if (length != 1)
        {
            return length > 1;
        }

        return start.TryPeek(1, out byte only) && only is >= (byte)'0' and <= (byte)'9';
    }

    /// <summary>One value at the current level is done; close every level that is now full.</summary>
    private static void CountValue(ref RespScanState state)
    {
        int depth = state.Depth;
        state.SetRemaining(depth, state.RemainingAt(depth) - 1);
        while (depth > 0 && state.RemainingAt(depth) == 0)
        {
            depth--;
        }

        state.Depth = depth;
    }

    private static RespScanStatus Push(ref RespScanState state, RespLimits limits, long count, out string? error)
    {
        // The aggregate is the value of its parent level; the parent closes when this level does.
        var left = state.RemainingAt(state.Depth) - 1;
        state.SetRemaining(state.Depth, left);
        return PushAttribute(ref state, limits, count, out error);
    }

    /// <summary>An attribute adds a level without being a value of its parent: the annotated value follows.</summary>
    private static RespScanStatus PushAttribute(ref RespScanState state, RespLimits limits, long count, out string? error)
    {
        if (state.Depth >= limits.MaxNestingDepth)
        {
            error = NestingTooDeep;
            return RespScanStatus.Error;
        }

        error = null;
        state.Depth++;
        state.SetRemaining(state.Depth, count);
        return RespScanStatus.Complete;
    }

    private static string InvalidTextLine(byte prefix) => prefix switch
    {
        (byte)'(' => "Protocol error: invalid big number",
        (byte)'-' => "Protocol error: invalid error line",
        _ => "Protocol error: invalid simple string",
    };

    internal static string InvalidTypeByte(byte prefix) => $"Protocol error: invalid type byte '{Printable(prefix)}'";

    internal static string Printable(byte b) => b is >= 0x20 and < 0x7F ? ((char)b).ToString() : $"\\x{b:x2}";

    [DoesNotReturn]
    private static void ThrowBufferShrank() =>
        throw new ArgumentException("The buffer is shorter than the part of the frame already scanned; pass the same frame start.", "reader");
}
