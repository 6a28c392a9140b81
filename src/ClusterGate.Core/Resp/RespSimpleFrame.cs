namespace ClusterGate.Core.Resp;

/// <summary>
/// The reply stream's fast path for the usual frames (simple string, integer, bulk string, null bulk)
/// lying whole inside one span. It only answers for frames <see cref="RespFrameScanner"/> accepts with the
/// same length; for anything else (aggregates, errors, RESP3 types, incomplete, odd spelling, over a limit)
/// it returns 0 and the caller scans with <see cref="RespFrameScanner"/>, which decides exactly.
/// </summary>
public static class RespSimpleFrame
{
    private const int MaxDigits = 18;

    /// <summary>The length of the frame at the start of <paramref name="span"/>, or 0 to use the full scanner.</summary>
    public static int TryScan(ReadOnlySpan<byte> span, RespLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (span.Length < 4)
        {
            return 0;
        }

        switch (span[0])
        {
            case (byte)'+':
            {
                var end = span[1..].IndexOfAny((byte)'\r', (byte)'\n');
                if (end < 0 || end > limits.MaxBulkLength || span[1 + end] != (byte)'\r' || 2 + end >= span.Length || span[2 + end] != (byte)'\n')
                {
                    return 0;
                }

                return end + 3;
            }

            case (byte)':':
            {
                var position = span[1] == (byte)'-' ? 2 : 1;
                return TryReadDigits(span, ref position, out _) ? position : 0;
            }

            case (byte)'$':
            {
                if (span[1] == (byte)'-')
                {
                    return span[2] == (byte)'1' && span[3] == (byte)'\r' && span.Length > 4 && span[4] == (byte)'\n' ? 5 : 0;
                }

                var position = 1;
                if (!TryReadDigits(span, ref position, out var length) || length > limits.MaxBulkLength || length > span.Length - 2 - position)
                {
                    return 0;
                }

                var end = position + (int)length;
                return span[end] == (byte)'\r' && span[end + 1] == (byte)'\n' ? end + 2 : 0;
            }

            default:
                return 0;
        }
    }

    /// <summary>One to <see cref="MaxDigits"/> digits and CRLF; the position ends after the CRLF. Shared with <see cref="RespRequestHead"/>.</summary>
    internal static bool TryReadDigits(ReadOnlySpan<byte> span, ref int position, out long value)
    {
        value = 0;
        var start = position;
        var i = start;
        while (true)
        {
            if (i >= span.Length)
            {
                return false;
            }

            var digit = (uint)(span[i] - '0');
            if (digit > 9)
            {
                break;
            }

            if (i - start == MaxDigits)
            {
                return false;
            }

            value = (value * 10) + digit;
            i++;
        }

        if (i == start || span[i] != (byte)'\r' || i + 1 >= span.Length || span[i + 1] != (byte)'\n')
        {
            return false;
        }

        position = i + 2;
        return true;
    }
}
