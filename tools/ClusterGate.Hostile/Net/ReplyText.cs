using System.Globalization;
using System.Text;

namespace ClusterGate.Hostile.Net;

/// <summary>Turns captured bytes into short printable text: escaped first bytes, or how the connection ended.</summary>
internal static class ReplyText
{
    private const int DescribeBytes = 64;
    private const int ClassChars = 48;

    /// <summary>A quote this early is part of the message itself ("-ERR 'blpop' blocks..."), not echoed input.</summary>
    private const int MinClassHead = 12;

    /// <summary>Bytes shown of the one sample kept per kind, under the table.</summary>
    public const int SampleBytes = 160;

    /// <summary>Printable ASCII as is; \r \n \t \0 and backslash escaped; anything else as \xNN.</summary>
    public static string Escape(ReadOnlySpan<byte> bytes, int max = DescribeBytes)
    {
        var sb = new StringBuilder();
        foreach (var b in bytes[..Math.Min(max, bytes.Length)])
        {
            _ = b switch
            {
                (byte)'\r' => sb.Append("\\r"),
                (byte)'\n' => sb.Append("\\n"),
                (byte)'\t' => sb.Append("\\t"),
                0 => sb.Append("\\0"),
                (byte)'\\' => sb.Append("\\\\"),
                >= 0x20 and < 0x7f => sb.Append((char)b),
                _ => sb.Append(CultureInfo.InvariantCulture, $"\\x{b:X2}"),
            };
        }

        return bytes.Length > max ? sb.Append('…').ToString() : sb.ToString();
    }

    /// <summary>The reply as the table shows it: first bytes (and how the connection ended), "closed", or "no reply in 2s".</summary>
    public static string Describe(Capture capture, TimeSpan waited, int max = DescribeBytes)
    {
        if (capture.FirstBytes.Length == 0)
        {
            return capture.Ended ?? NoReply(waited);
        }

        var text = Escape(capture.FirstBytes, max);
        return capture.Ended is null ? text : $"{text} (then {capture.Ended})";
    }

    /// <summary>
    /// A grouping key for many connections: the first line up to the first quote (where Redis starts echoing the
    /// input back, as in "-ERR unknown command '"), and how the connection ended.
    /// </summary>
    public static string Class(Capture capture, TimeSpan waited)
    {
        if (capture.FirstBytes.Length == 0)
        {
            return capture.Ended ?? NoReply(waited);
        }

        var first = capture.FirstBytes.AsSpan();
        var lineEnd = first.IndexOfAny((byte)'\r', (byte)'\n');
        var line = lineEnd < 0 ? first : first[..lineEnd];
        var quote = line.IndexOf((byte)'\'');
        var head = Escape(quote < MinClassHead ? line : line[..(quote + 1)], ClassChars);
        return capture.Ended is null ? head : $"{head} (then {capture.Ended})";
    }

    public static string NoReply(TimeSpan waited) => $"no reply in {Durations.Format(waited)}";
}
