namespace ClusterGate.Core.Resp;

/// <summary>
/// The data plane's fast path for the usual request: a complete RESP array of bulk strings inside one
/// span. Finds where it ends and where its first two arguments are, without recording the others.
/// It only answers for input <see cref="RespRequestParser"/> would accept with the same frame: for
/// anything else (inline, incomplete, empty, malformed, over a limit, unusual number spelling) it
/// returns false and the caller parses with <see cref="RespRequestParser"/>, which decides exactly.
/// </summary>
public static class RespRequestHead
{
    /// <summary>
    /// Scans one request at the start of <paramref name="span"/>. On true, <paramref name="length"/> is the
    /// frame length, <paramref name="count"/> the argument count (at least 1), and the name and first
    /// argument are given as offset and length (the first argument's length is -1 when there is none).
    /// </summary>
    public static bool TryScan(
        ReadOnlySpan<byte> span,
        RespLimits limits,
        out int length,
        out int count,
        out int nameOffset,
        out int nameLength,
        out int argumentOffset,
        out int argumentLength)
    {
        ArgumentNullException.ThrowIfNull(limits);
        length = count = nameOffset = nameLength = argumentOffset = 0;
        argumentLength = -1;
        if (span.Length < 4 || span[0] != (byte)'*')
        {
            return false;
        }

        var position = 1;
        if (!TryReadLength(span, ref position, limits.MaxArrayLength, out var declared) || declared < 1)
        {
            return false;
        }

        var maxBulk = Math.Min(limits.MaxBulkLength, Array.MaxLength);
        for (var i = 0; i < declared; i++)
        {
            if (position >= span.Length || span[position] != (byte)'$')
            {
                return false;
            }

            position++;
            if (!TryReadLength(span, ref position, maxBulk, out var bulk))
            {
                return false;
            }

            var payload = position;
            if (bulk > span.Length - 2 - payload)
            {
                return false;
            }

            position += (int)bulk;
            if (span[position] != (byte)'\r' || span[position + 1] != (byte)'\n')
            {
                return false;
            }

            position += 2;
            if (i == 0)
            {
                nameOffset = payload;
                nameLength = (int)bulk;
            }
            else if (i == 1)
            {
                argumentOffset = payload;
                argumentLength = (int)bulk;
            }
        }

        length = position;
        count = (int)declared;
        return true;
    }

    /// <summary>Plain digits and CRLF, within <paramref name="max"/>; the position ends after the CRLF.</summary>
    private static bool TryReadLength(ReadOnlySpan<byte> span, ref int position, long max, out long value)
    {
        var next = position;
        if (!RespSimpleFrame.TryReadDigits(span, ref next, out value) || value > max)
        {
            return false;
        }

        position = next;
        return true;
    }
}
