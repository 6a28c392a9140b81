using System.Buffers;
using System.Text;
using ClusterGate.Core.Resp;
using Xunit;

namespace ClusterGate.Core.UnitTests.Resp;

public sealed class RespWriterTests
{
    [Fact]
    public void WriteScalars_Always_ProduceRespLines()
    {
        Assert.Equal("+OK\r\n", Written(w => RespWriter.WriteSimpleString(w, "OK"u8)));
        Assert.Equal("-ERR no\r\n", Written(w => RespWriter.WriteError(w, "ERR no"u8)));
        Assert.Equal("-ERR é\r\n", Encoding.UTF8.GetString(WrittenBytes(w => RespWriter.WriteError(w, "ERR é"))));
        Assert.Equal(":-9223372036854775808\r\n", Written(w => RespWriter.WriteInteger(w, long.MinValue)));
        Assert.Equal(":0\r\n", Written(w => RespWriter.WriteInteger(w, 0)));
        Assert.Equal("$3\r\na\r\n\r\n", Written(w => RespWriter.WriteBulkString(w, "a\r\n"u8)));
        Assert.Equal("$0\r\n\r\n", Written(w => RespWriter.WriteBulkString(w, ReadOnlySpan<byte>.Empty)));
        Assert.Equal("$-1\r\n", Written(RespWriter.WriteNullBulk));
        Assert.Equal("*-1\r\n", Written(RespWriter.WriteNullArray));
        Assert.Equal("*12\r\n", Written(w => RespWriter.WriteArrayHeader(w, 12)));
    }

    [Fact]
    public void WriteBulkString_MultiSegmentSequence_WritesAllSegments()
    {
        ReadOnlySequence<byte> payload = SegmentedSequence.Split("hello world"u8.ToArray(), [0, 3, 3, 10]);

        Assert.Equal("$11\r\nhello world\r\n", Written(w => RespWriter.WriteBulkString(w, payload)));
    }

    [Fact]
    public void WriteCommand_Strings_WritesArrayOfBulkStrings()
    {
        Assert.Equal("*2\r\n$7\r\nCLUSTER\r\n$5\r\nNODES\r\n", Written(w => RespWriter.WriteCommand(w, "CLUSTER", "NODES")));
        Assert.Equal("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nvv\r\n", Written(w => RespWriter.WriteCommand(w, "SET"u8, "k"u8, "vv"u8)));
        Assert.Equal("*1\r\n$4\r\nPING\r\n", Written(w => RespWriter.WriteCommand(w, "PING"u8)));
    }

    [Fact]
    public void WriteValue_EveryType_WritesCanonicalFrames()
    {
        RespValue value = RespValue.Array(
            RespValue.Null,
            RespValue.NullBulk,
            RespValue.NullArray,
            RespValue.FromBoolean(false),
            RespValue.FromDouble(double.PositiveInfinity),
            RespValue.FromDouble(1.5),
            RespValue.BigNumber("-12"),
            RespValue.Verbatim("txt", "hi"),
            RespValue.BulkError("E"),
            RespValue.Map(RespValue.Simple("k"), RespValue.Int(1)),
            RespValue.Set(),
            RespValue.Push(RespValue.Bulk("m")).WithAttribute(RespValue.AttributeMap(RespValue.Simple("a"), RespValue.Int(2))));

        Assert.Equal(
            "*12\r\n_\r\n$-1\r\n*-1\r\n#f\r\n,inf\r\n,1.5\r\n(-12\r\n=6\r\ntxt:hi\r\n!1\r\nE\r\n%1\r\n+k\r\n:1\r\n~0\r\n|1\r\n+a\r\n:2\r\n>1\r\n$1\r\nm\r\n",
            Written(w => RespWriter.WriteValue(w, value)));
    }

    [Fact]
    public void WriteSimpleString_WithLineBreak_Throws()
    {
        Assert.Throws<ArgumentException>(() => Written(w => RespWriter.WriteSimpleString(w, "a\r\nb"u8)));
        Assert.Throws<ArgumentException>(() => Written(w => RespWriter.WriteError(w, "a\nb")));
    }

    [Fact]
    public void WriteInteger_Always_DoesNotAllocate()
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        RespWriter.WriteInteger(buffer, 1);
        buffer.ResetWrittenCount();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            RespWriter.WriteInteger(buffer, long.MinValue + i);
            RespWriter.WriteBulkString(buffer, "x"u8);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static string Written(Action<IBufferWriter<byte>> write) => Encoding.Latin1.GetString(WrittenBytes(write));

    private static byte[] WrittenBytes(Action<IBufferWriter<byte>> write)
    {
        var buffer = new ArrayBufferWriter<byte>();
        write(buffer);
        return buffer.WrittenSpan.ToArray();
    }
}
