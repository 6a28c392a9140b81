using System.Buffers;
using System.Text;
using ClusterGate.Core.Resp;

namespace ClusterGate.Core.UnitTests.Resp;

internal static class RespTestFrames
{
    /// <summary>Hand-written valid frames covering every type, nulls, attributes and nesting.</summary>
    public static readonly string[] Valid =
    [
        "+OK\r\n",
        "+\r\n",
        "-ERR unknown command 'FOO'\r\n",
        ":0\r\n",
        ":-9223372036854775808\r\n",
        ":+42\r\n",
        "$0\r\n\r\n",
        "$5\r\nhello\r\n",
        "$4\r\n\r\n\r\n\r\n",
        "$-1\r\n",
        "*-1\r\n",
        "*0\r\n",
        "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
        "*3\r\n:1\r\n*2\r\n+a\r\n*0\r\n$1\r\nx\r\n",
        "_\r\n",
        ",3.14\r\n",
        ",-inf\r\n",
        ",nan\r\n",
        ",1e+300\r\n",
        "#t\r\n",
        "#f\r\n",
        "(3492890328409238509324850943850943825024385\r\n",
        "(-1\r\n",
        "=15\r\ntxt:Some string\r\n",
        "!21\r\nSYNTAX invalid syntax\r\n",
        "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
        "~3\r\n:1\r\n:2\r\n:3\r\n",
        ">3\r\n+message\r\n+channel\r\n$5\r\nhello\r\n",
        "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
        "*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n",
        "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
    ];

    public static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    public static byte[] Write(params RespValue[] values)
    {
        var buffer = new ArrayBufferWriter<byte>();
        foreach (RespValue value in values)
        {
            RespWriter.WriteValue(buffer, value);
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static RespScanStatus Scan(ReadOnlySequence<byte> sequence, out long consumed, out string? error, RespLimits? limits = null)
    {
        var reader = new SequenceReader<byte>(sequence);
        RespScanState state = default;
        RespScanStatus status = RespFrameScanner.TryScan(ref reader, limits ?? RespLimits.Default, ref state, out error);
        consumed = reader.Consumed;
        return status;
    }

    public static RespScanStatus Scan(byte[] data, out string? error, RespLimits? limits = null) =>
        Scan(new ReadOnlySequence<byte>(data), out _, out error, limits);
}
