using System.Buffers;
using ClusterGate.Core.Resp;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static ClusterGate.Core.UnitTests.Resp.RespTestFrames;

namespace ClusterGate.Core.UnitTests.Resp;

public sealed class RespValueTests
{
    [Fact]
    public void TryRead_GeneratedValuesWrittenAndSplitAnywhere_ReadBackEqualOneByOne()
    {
        Gen<(RespValue[] Values, int[] Cuts)> input =
            from values in RespGenerators.Values
            let length = Write(values).Length
            from cuts in Gen.Choose(0, 8).SelectMany(n => Gen.ArrayOf(Gen.Choose(0, length), n))
            select (values, cuts);

        Property property = Prop.ForAll(Arb.From(input), test =>
        {
            byte[] data = Write(test.Values);
            // Cuts at random points, plus one inside a CRLF, one-byte segments and empty segments.
            int[] cuts = [.. test.Cuts, .. SegmentedSequence.InsideCrLf(data).Take(1), 1, 2, 2];
            ReadOnlySequence<byte> sequence = SegmentedSequence.Split(data, cuts);

            var scanReader = new SequenceReader<byte>(sequence);
            var readReader = new SequenceReader<byte>(sequence);
            RespScanState state = default;
            foreach (RespValue expected in test.Values)
            {
                long frameLength = Write(expected).Length;
                long scanStart = scanReader.Consumed;
                if (RespFrameScanner.TryScan(ref scanReader, RespLimits.Default, ref state, out string? scanError) != RespScanStatus.Complete)
                {
                    return false.Label($"scan: {scanError}");
                }

                long readStart = readReader.Consumed;
                if (RespValue.TryRead(ref readReader, RespLimits.Default, out RespValue? actual, out string? readError) != RespScanStatus.Complete)
                {
                    return false.Label($"read: {readError}");
                }

                if (scanReader.Consumed - scanStart != frameLength || readReader.Consumed - readStart != frameLength)
                {
                    return false.Label("frame length");
                }

                if (!expected.Equals(actual))
                {
                    return false.Label($"expected {expected}, got {actual}");
                }
            }

            return (scanReader.End && readReader.End).Label("end");
        });

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), property);
    }

    [Fact]
    public void TryRead_Resp2Nulls_AreNullOfTheirType()
    {
        Assert.Equal(RespValue.NullBulk, Read("$-1\r\n"));
        Assert.Equal(RespValue.NullArray, Read("*-1\r\n"));
        Assert.True(Read("$-1\r\n").IsNull);
        Assert.Equal(RespType.BulkString, Read("$-1\r\n").Type);
        Assert.True(Read("_\r\n").IsNull);
        Assert.NotEqual(RespValue.NullBulk, RespValue.NullArray);
        Assert.NotEqual(RespValue.Bulk(""), RespValue.NullBulk);
    }

    [Fact]
    public void TryRead_AttributeBeforeValue_AttachesAttribute()
    {
        RespValue value = Read("|1\r\n+ttl\r\n:3600\r\n$3\r\nabc\r\n");

        Assert.Equal(RespType.BulkString, value.Type);
        Assert.Equal("abc", value.AsString());
        Assert.Equal(RespValue.AttributeMap(RespValue.Simple("ttl"), RespValue.Int(3600)), value.Attribute);
        Assert.NotEqual(RespValue.Bulk("abc"), value);
    }

    [Fact]
    public void TryRead_ScalarTypes_ExposeTheirValues()
    {
        Assert.Equal(-42, Read(":-42\r\n").Integer);
        Assert.Equal(3.5, Read(",3.5\r\n").Double);
        Assert.Equal("3.5", Read(",3.5\r\n").AsString());
        Assert.True(double.IsNegativeInfinity(Read(",-inf\r\n").Double));
        Assert.True(Read("#t\r\n").Boolean);
        Assert.Equal("txt:hello", Read("=9\r\ntxt:hello\r\n").AsString());
        Assert.Equal("-123456789012345678901234567890", Read("(-123456789012345678901234567890\r\n").AsString());
        Assert.Equal(RespType.BulkError, Read("!5\r\nOOPS!\r\n").Type);
        Assert.Equal(RespValue.Error("ERR x"), Read("-ERR x\r\n"));
    }

    [Fact]
    public void TryRead_Map_FlattensKeysAndValues()
    {
        RespValue map = Read("%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n");

        Assert.Equal(RespType.Map, map.Type);
        Assert.Equal([RespValue.Simple("a"), RespValue.Int(1), RespValue.Simple("b"), RespValue.Int(2)], map.Items);
    }

    [Fact]
    public void TryRead_IncompleteOrInvalid_DoesNotMoveTheReader()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Bytes("*2\r\n:1\r\n")));
        Assert.Equal(RespScanStatus.Incomplete, RespValue.TryRead(ref reader, RespLimits.Default, out RespValue? value, out _));
        Assert.Null(value);
        Assert.Equal(0, reader.Consumed);

        reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Bytes("*2\r\n?")));
        Assert.Equal(RespScanStatus.Error, RespValue.TryRead(ref reader, RespLimits.Default, out _, out string? error));
        Assert.Equal("Protocol error: invalid type byte '?'", error);
        Assert.Equal(0, reader.Consumed);
    }

    [Fact]
    public void Equals_SameContentDifferentInstances_AreEqualWithSameHash()
    {
        RespValue a = RespValue.Array(RespValue.Bulk("x"u8), RespValue.Int(1), RespValue.FromDouble(double.NaN));
        RespValue b = RespValue.Array(RespValue.Bulk("x"), RespValue.Int(1), RespValue.FromDouble(double.NaN));

        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, RespValue.Set(RespValue.Bulk("x"), RespValue.Int(1), RespValue.FromDouble(double.NaN)));
    }

    [Fact]
    public void Factories_InvalidArguments_Throw()
    {
        Assert.Throws<ArgumentException>(() => RespValue.Map(RespValue.Int(1)));
        Assert.Throws<ArgumentException>(() => RespValue.Verbatim("text", "x"));
        Assert.Throws<ArgumentException>(() => RespValue.BigNumber("12a"));
        Assert.Throws<ArgumentException>(() => RespValue.Int(1).WithAttribute(RespValue.Map()));
    }

    private static RespValue Read(string frame)
    {
        var reader = new SequenceReader<byte>(SegmentedSequence.BytePerSegment(Bytes(frame)));
        Assert.Equal(RespScanStatus.Complete, RespValue.TryRead(ref reader, RespLimits.Default, out RespValue? value, out string? error));
        Assert.Null(error);
        Assert.True(reader.End);
        return value!;
    }
}
