using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace ClusterGate.Core.Resp;

/// <summary>
/// Parses client requests on the data plane: a RESP array of bulk strings, or an inline command line split the
/// way Redis's <c>sdssplitargs</c> splits it. Resumable through the <see cref="RespRequest"/>: call again with
/// a reader over the grown buffer from the same start, and only the new bytes are examined.
/// </summary>
public static class RespRequestParser
{
    internal const string TooBigInline = "Protocol error: too big inline request";
    internal const string UnbalancedQuotes = "Protocol error: unbalanced quotes in request";

    /// <summary>
    /// Parses one request at the reader's position. On <see cref="RespScanStatus.Complete"/> the reader is just
    /// past it and <paramref name="request"/> describes it (<see cref="RespRequest.Count"/> 0 for an empty line or
    /// <c>*0</c>, which the caller ignores). After Incomplete or Error the reader's position is unspecified.
    /// </summary>
    public static RespScanStatus TryParse(ref SequenceReader<byte> reader, RespLimits limits, RespRequest request, out string? error)
    {
        ArgumentNullException.ThrowIfNull(limits);
        ArgumentNullException.ThrowIfNull(request);
        error = null;
        SequenceReader<byte> start = reader;
        if (!request.InProgress)
        {
            if (!reader.TryPeek(out byte first))
            {
                request.Clear();
                return RespScanStatus.Incomplete;
            }

            request.Begin(isInline: first != '*');
        }

        RespScanStatus status = request.IsInline
            ? ParseInline(ref reader, limits, request, out error)
            : ParseArray(ref reader, limits, request, out error);
        if (status == RespScanStatus.Complete)
        {
            request.Complete(start.UnreadSequence.Slice(0, reader.Consumed - start.Consumed));
        }
        else if (status == RespScanStatus.Error)
        {
            request.Clear();
        }

        return status;
    }

    private static RespScanStatus ParseArray(ref SequenceReader<byte> reader, RespLimits limits, RespRequest request, out string? error)
    {
        error = null;
        long frameStart = reader.Consumed;
        Resume(ref reader, request.Consumed);
        Span<byte> line = stackalloc byte[RespNumber.MaxLineLength + 3];
        if (request.Expected < 0)
        {
            RespScanStatus header = ReadLength(ref reader, line, allowNull: true, limits.MaxArrayLength, out long count);
            if (header != RespScanStatus.Complete)
            {
                error = header == RespScanStatus.Error ? RespFrameScanner.InvalidMultibulkLength : null;
                return header;
            }

            if (count <= 0)
            {
                return RespScanStatus.Complete;
            }

            request.Expected = count;
            request.Consumed = reader.Consumed - frameStart;
        }

        long maxBulk = Math.Min(limits.MaxBulkLength, Array.MaxLength);
        while (request.Count < request.Expected)
        {
            if (request.PendingLength < 0)
            {
                if (!reader.TryPeek(out byte prefix))
                {
                    return RespScanStatus.Incomplete;
                }

                if (prefix != '$')
                {
                    error = $"Protocol error: expected '$', got '{RespFrameScanner.Printable(prefix)}'";
                    return RespScanStatus.Error;
                }

                RespScanStatus header = ReadLength(ref reader, line, allowNull: false, maxBulk, out long length);
                if (header != RespScanStatus.Complete)
                {
                    error = header == RespScanStatus.Error ? RespFrameScanner.InvalidBulkLength : null;
                    return header;
                }

                request.PendingLength = length;
                request.Consumed = reader.Consumed - frameStart;
            }

            long pending = request.PendingLength;
            long available = reader.Remaining;
            if (available < pending + 2)
            {
                if (available > pending)
                {
                    reader.Advance(pending);
                    if (!reader.IsNext((byte)'\r'))
                    {
                        error = RespFrameScanner.BulkNotTerminated;
                        return RespScanStatus.Error;
                    }
                }

                return RespScanStatus.Incomplete;
            }

            request.AddArgument(reader.Consumed - frameStart, (int)pending);
            reader.Advance(pending);
            if (!reader.IsNext("\r\n"u8, advancePast: true))
            {
                error = RespFrameScanner.BulkNotTerminated;
                return RespScanStatus.Error;
            }

            request.PendingLength = -1;
            request.Consumed = reader.Consumed - frameStart;
        }

        return RespScanStatus.Complete;
    }

    private static RespScanStatus ReadLength(ref SequenceReader<byte> reader, scoped Span<byte> buffer, bool allowNull, long max, out long value)
    {
        value = 0;
        RespNumber.LineStatus line = RespNumber.PeekLine(reader, buffer, out int length);
        if (line == RespNumber.LineStatus.Malformed)
        {
            return RespScanStatus.Error;
        }

        bool complete = line == RespNumber.LineStatus.Complete;
        if (!RespNumber.TryParseLength(buffer.Slice(1, length), complete, allowNull, max, out value))
        {
            return RespScanStatus.Error;
        }

        if (!complete)
        {
            return RespScanStatus.Incomplete;
        }

        reader.Advance(length + 3);
        return RespScanStatus.Complete;
    }

    private static RespScanStatus ParseInline(ref SequenceReader<byte> reader, RespLimits limits, RespRequest request, out string? error)
    {
        error = null;
        SequenceReader<byte> lineStart = reader;
        long checkedLength = request.InlineChecked;
        long maxLine = (long)limits.MaxInlineLength + 1; // the content plus an optional CR
        Resume(ref reader, checkedLength);
        while (true)
        {
            ReadOnlySpan<byte> span = reader.UnreadSpan;
            if (span.IsEmpty)
            {
                request.InlineChecked = checkedLength;
                if (checkedLength == maxLine && LastByte(lineStart, checkedLength) != '\r')
                {
                    error = TooBigInline;
                    return RespScanStatus.Error;
                }

                return RespScanStatus.Incomplete;
            }

            int lineFeed = span.IndexOf((byte)'\n');
            checkedLength += lineFeed < 0 ? span.Length : lineFeed;
            if (checkedLength > maxLine)
            {
                error = TooBigInline;
                return RespScanStatus.Error;
            }

            if (lineFeed >= 0)
            {
                reader.Advance(lineFeed + 1);
                break;
            }

            reader.Advance(span.Length);
        }

        int lineLength = (int)checkedLength;
        Span<byte> buffer = request.InlineBuffer(lineLength);
        lineStart.UnreadSequence.Slice(0, lineLength).CopyTo(buffer);
        int contentLength = lineLength > 0 && buffer[lineLength - 1] == '\r' ? lineLength - 1 : lineLength;
        if (contentLength > limits.MaxInlineLength)
        {
            error = TooBigInline;
            return RespScanStatus.Error;
        }

        if (!SplitArguments(buffer[..contentLength], buffer, lineLength, request))
        {
            error = UnbalancedQuotes;
            return RespScanStatus.Error;
        }

        return RespScanStatus.Complete;
    }

    /// <summary>
    /// Redis's <c>sdssplitargs</c>: blanks separate; "double quotes" take \n \r \t \b \a \xHH and \c escapes;
    /// 'single quotes' take \'; a closing quote must be followed by a blank or the end. A NUL ends the line,
    /// as in C. Decoded arguments go to <paramref name="output"/> from <paramref name="outputStart"/>.
    /// </summary>
    private static bool SplitArguments(ReadOnlySpan<byte> line, Span<byte> output, int outputStart, RespRequest request)
    {
        int nul = line.IndexOf((byte)0);
        if (nul >= 0)
        {
            line = line[..nul];
        }

        int p = 0;
        int written = outputStart;
        while (true)
        {
            while (p < line.Length && IsSpace(line[p]))
            {
                p++;
            }

            if (p == line.Length)
            {
                return true;
            }

            int argumentStart = written;
            bool inDoubleQuotes = false;
            bool inSingleQuotes = false;
            bool done = false;
            while (!done)
            {
                byte c = At(line, p);
                if (inDoubleQuotes)
                {
                    if (c == '\\' && At(line, p + 1) == 'x' && IsHex(At(line, p + 2)) && IsHex(At(line, p + 3)))
                    {
                        output[written++] = (byte)((HexValue(At(line, p + 2)) << 4) | HexValue(At(line, p + 3)));
                        p += 3;
                    }
                    else if (c == '\\' && At(line, p + 1) != 0)
                    {
                        p++;
                        output[written++] = line[p] switch
                        {
                            (byte)'n' => (byte)'\n',
                            (byte)'r' => (byte)'\r',
                            (byte)'t' => (byte)'\t',
                            (byte)'b' => (byte)'\b',
                            (byte)'a' => (byte)'\a',
                            var other => other,
                        };
                    }
                    else if (c == '"')
                    {
                        if (At(line, p + 1) != 0 && !IsSpace(At(line, p + 1)))
                        {
                            return false;
                        }

                        done = true;
                    }
                    else if (c == 0)
                    {
                        return false;
                    }
                    else
                    {
                        output[written++] = c;
                    }
                }
                else if (inSingleQuotes)
                {
                    if (c == '\\' && At(line, p + 1) == '\'')
                    {
                        p++;
                        output[written++] = (byte)'\'';
                    }
                    else if (c == '\'')
                    {
                        if (At(line, p + 1) != 0 && !IsSpace(At(line, p + 1)))
                        {
                            return false;
                        }

                        done = true;
                    }
                    else if (c == 0)
                    {
                        return false;
                    }
                    else
                    {
                        output[written++] = c;
                    }
                }
                else
                {
                    switch (c)
                    {
                        case (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t' or 0:
                            done = true;
                            break;
                        case (byte)'"':
                            inDoubleQuotes = true;
                            break;
                        case (byte)'\'':
                            inSingleQuotes = true;
                            break;
                        default:
                            output[written++] = c;
                            break;
                    }
                }

                if (At(line, p) != 0)
                {
                    p++;
                }
            }

            request.AddArgument(argumentStart, written - argumentStart);
        }
    }

    private static byte At(ReadOnlySpan<byte> line, int index) => index < line.Length ? line[index] : (byte)0;

    /// <summary>C <c>isspace</c>.</summary>
    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r';

    private static bool IsHex(byte c) => char.IsAsciiHexDigit((char)c);

    private static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static byte LastByte(SequenceReader<byte> lineStart, long length)
    {
        lineStart.Advance(length - 1);
        _ = lineStart.TryPeek(out byte last);
        return last;
    }

    private static void Resume(ref SequenceReader<byte> reader, long consumed)
    {
        if (reader.Remaining < consumed)
        {
            ThrowBufferShrank();
        }

        reader.Advance(consumed);
    }

    [DoesNotReturn]
    private static void ThrowBufferShrank() =>
        throw new ArgumentException("The buffer is shorter than the part of the request already parsed; pass the same request start.", "reader");
}
