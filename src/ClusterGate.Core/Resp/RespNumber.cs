using System.Buffers;
using System.Globalization;

namespace ClusterGate.Core.Resp;

/// <summary>
/// Number lines of the protocol. Every check also answers "can this still become valid?" for a line that has
/// not ended yet, so a scanner never waits for more bytes after input that is already wrong.
/// </summary>
internal static class RespNumber
{
    /// <summary>Longest accepted number line (length, integer, double, boolean, null), without its CRLF.</summary>
    public const int MaxLineLength = 64;

    private static readonly SearchValues<byte> DoubleCharacters = SearchValues.Create("0123456789+-.eEiInNfFaA"u8);

    public enum LineStatus
    {
        Complete,
        Incomplete,
        Malformed,
    }

    /// <summary>
    /// Copies the line after the type byte at the reader's position into <paramref name="buffer"/>
    /// (at least <see cref="MaxLineLength"/> + 3 bytes) without moving the reader.
    /// </summary>
    public static LineStatus PeekLine(in SequenceReader<byte> reader, Span<byte> buffer, out int contentLength)
    {
        int available = (int)Math.Min(reader.Remaining, buffer.Length);
        Span<byte> copy = buffer[..available];
        _ = reader.TryCopyTo(copy);
        ReadOnlySpan<byte> line = copy[1..];
        int end = line.IndexOfAny((byte)'\r', (byte)'\n');
        if (end < 0)
        {
            contentLength = line.Length;
            return line.Length > MaxLineLength ? LineStatus.Malformed : LineStatus.Incomplete;
        }

        contentLength = end;
        if (end > MaxLineLength || line[end] == '\n')
        {
            return LineStatus.Malformed;
        }

        if (end + 1 == line.Length)
        {
            return LineStatus.Incomplete;
        }

        return line[end + 1] == '\n' ? LineStatus.Complete : LineStatus.Malformed;
    }

    /// <summary>A bulk or aggregate length: digits, or exactly <c>-1</c> when <paramref name="allowNull"/>.</summary>
    public static bool TryParseLength(ReadOnlySpan<byte> s, bool complete, bool allowNull, long max, out long value)
    {
        value = 0;
        if (s.Length > 0 && s[0] == '-')
        {
            if (!allowNull)
            {
                return false;
            }

            if (s.Length == 1)
            {
                return !complete;
            }

            if (s.Length == 2 && s[1] == '1')
            {
                value = -1;
                return true;
            }

            return false;
        }

        if (s.IsEmpty)
        {
            return !complete;
        }

        foreach (byte b in s)
        {
            uint digit = (uint)(b - '0');
            if (digit > 9 || value > max / 10)
            {
                return false;
            }

            value *= 10;
            if (value > max - digit)
            {
                return false;
            }

            value += digit;
        }

        return true;
    }

    /// <summary>An integer reply: optional sign, at least one digit, within <see cref="long"/>.</summary>
    public static bool TryParseInteger(ReadOnlySpan<byte> s, bool complete, out long value)
    {
        value = 0;
        int i = 0;
        bool negative = false;
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+'))
        {
            negative = s[0] == '-';
            i = 1;
        }

        if (i == s.Length)
        {
            return !complete;
        }

        ulong limit = negative ? 1UL << 63 : long.MaxValue;
        ulong acc = 0;
        for (; i < s.Length; i++)
        {
            uint digit = (uint)(s[i] - '0');
            if (digit > 9 || acc > (limit - digit) / 10)
            {
                return false;
            }

            acc = (acc * 10) + digit;
        }

        value = negative ? unchecked((long)(0UL - acc)) : (long)acc;
        return true;
    }

    /// <summary>Redis <c>string2ll</c>: no sign but '-', no leading zeros, no "-0", within <see cref="long"/>.</summary>
    public static bool TryParseStrictInt64(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 20)
        {
            return false;
        }

        if (s.Length == 1 && s[0] == '0')
        {
            return true;
        }

        int first = s[0] == '-' ? 1 : 0;
        if (first == s.Length || s[first] < '1' || s[first] > '9')
        {
            return false;
        }

        return TryParseInteger(s, complete: true, out value);
    }

    /// <summary>A RESP3 double: <c>inf</c>, <c>-inf</c>, <c>nan</c> or a decimal number with optional exponent.</summary>
    public static bool TryParseDouble(ReadOnlySpan<byte> s, bool complete, out double value)
    {
        value = 0;
        if (s.IndexOfAnyExcept(DoubleCharacters) >= 0)
        {
            return false;
        }

        if (!complete)
        {
            return true;
        }

        ReadOnlySpan<byte> unsigned = s.Length > 0 && (s[0] == '-' || s[0] == '+') ? s[1..] : s;
        if (System.Text.Ascii.EqualsIgnoreCase(unsigned, "inf"u8))
        {
            value = s[0] == '-' ? double.NegativeInfinity : double.PositiveInfinity;
            return true;
        }

        if (System.Text.Ascii.EqualsIgnoreCase(unsigned, "nan"u8))
        {
            value = double.NaN;
            return true;
        }

        if (unsigned.IsEmpty || !char.IsAsciiDigit((char)unsigned[0]) && unsigned[0] != '.')
        {
            return false;
        }

        return double.TryParse(
            s,
            NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent,
            CultureInfo.InvariantCulture,
            out value);
    }
}
