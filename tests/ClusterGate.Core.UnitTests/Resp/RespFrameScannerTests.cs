using System.Buffers;
using System.Text;
using ClusterGate.Core.Resp;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static ClusterGate.Core.UnitTests.Resp.RespTestFrames;

namespace ClusterGate.Core.UnitTests.Resp;

public sealed class RespFrameScannerTests
{
    public static TheoryData<string> ValidFrames => new(Valid);

    [Theory]
    [MemberData(nameof(ValidFrames))]
    public void TryScan_WholeFrameWithTrailingBytes_ConsumesExactlyTheFrame(string frame)
    {
        byte[] data = Bytes(frame + "+next\r\n");

        RespScanStatus status = Scan(new ReadOnlySequence<byte>(data), out long consumed, out string? error);

        Assert.Equal(RespScanStatus.Complete, status);
        Assert.Null(error);
        Assert.Equal(frame.Length, consumed);
    }

    [Theory]
    [MemberData(nameof(ValidFrames))]
    public void TryScan_EveryProperPrefix_IsIncomplete(string frame)
    {
        byte[] data = Bytes(frame);
        for (int length = 0; length < data.Length; length++)
        {
            RespScanStatus status = Scan(new ReadOnlySequence<byte>(data, 0, length), out _, out string? error);
            Assert.True(status == RespScanStatus.Incomplete, $"prefix {length} of {Escape(frame)}: {status} {error}");
        }
    }

    [Theory]
    [MemberData(nameof(ValidFrames))]
    public void TryScan_EveryTwoSegmentSplit_ConsumesExactlyTheFrame(string frame)
    {
        byte[] data = Bytes(frame);
        for (int cut = 0; cut <= data.Length; cut++)
        {
            RespScanStatus status = Scan(SegmentedSequence.Split(data, [cut, cut]), out long consumed, out _);
            Assert.Equal(RespScanStatus.Complete, status);
            Assert.Equal(data.Length, consumed);
        }

        Assert.Equal(RespScanStatus.Complete, Scan(SegmentedSequence.BytePerSegment(data), out long all, out _));
        Assert.Equal(data.Length, all);
    }

    [Theory]
    [MemberData(nameof(ValidFrames))]
    public void TryScan_FedByteByByteWithState_CompletesOnLastByte(string frame)
    {
        byte[] data = Bytes(frame);
        Assert.Equal(data.Length, ScanResumably(data));
    }

    [Fact]
    public void TryScan_LargeArrayArrivingInPieces_ResumesAfterElementsAlreadySeen()
    {
        byte[] data = Write(RespValue.Array([.. Enumerable.Range(0, 100).Select(i => RespValue.Int(i))]));
        RespScanState state = default;
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data, 0, data.Length / 2));

        Assert.Equal(RespScanStatus.Incomplete, RespFrameScanner.TryScan(ref reader, RespLimits.Default, ref state, out _));

        Assert.True(state.IsInProgress);
        Assert.InRange(state.Consumed, (data.Length / 2) - 8, data.Length / 2);
        Assert.Equal(1, state.Depth);
    }

    [Fact]
    public void TryScan_BigBulkArrivingInPieces_KeepsHeaderAndWaitsForPayload()
    {
        byte[] data = Write(RespValue.Bulk(new byte[100_000]));
        RespScanState state = default;
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data, 0, 50_000));

        Assert.Equal(RespScanStatus.Incomplete, RespFrameScanner.TryScan(ref reader, RespLimits.Default, ref state, out _));

        Assert.Equal("$100000\r\n".Length, state.Consumed);
        Assert.Equal(100_002, state.PendingBulk);
        reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data));
        Assert.Equal(RespScanStatus.Complete, RespFrameScanner.TryScan(ref reader, RespLimits.Default, ref state, out _));
        Assert.Equal(data.Length, reader.Consumed);
        Assert.False(state.IsInProgress);
    }

    [Fact]
    public void TryScan_LongSimpleStringArrivingInPieces_RemembersCheckedBytes()
    {
        byte[] data = Bytes("+" + new string('a', 1000) + "\r\n");
        RespScanState state = default;
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data, 0, 600));

        Assert.Equal(RespScanStatus.Incomplete, RespFrameScanner.TryScan(ref reader, RespLimits.Default, ref state, out _));

        Assert.Equal(599, state.LineChecked);
        Assert.Equal(data.Length, ScanResumably(data));
    }

    [Fact]
    public void TryScan_ValidFrames_DoNotAllocate()
    {
        byte[] data = Bytes(string.Concat(Valid));
        ReadOnlySequence<byte> sequence = SegmentedSequence.Split(data, [7, 8, 8, 100, 101]);
        Assert.Equal(Valid.Length, ScanAll(sequence));

        long before = GC.GetAllocatedBytesForCurrentThread();
        int frames = ScanAll(sequence);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(Valid.Length, frames);
        Assert.Equal(0, allocated);

        static int ScanAll(ReadOnlySequence<byte> sequence)
        {
            var reader = new SequenceReader<byte>(sequence);
            RespScanState state = default;
            int frames = 0;
            while (RespFrameScanner.TryScan(ref reader, RespLimits.Default, ref state, out _) == RespScanStatus.Complete)
            {
                frames++;
            }

            return frames;
        }
    }

    [Theory]
    [InlineData("?x\r\n", "Protocol error: invalid type byte '?'")]
    [InlineData("\0", "Protocol error: invalid type byte '\\x00'")]
    [InlineData("$-2\r\n", "Protocol error: invalid bulk length")]
    [InlineData("$-10", "Protocol error: invalid bulk length")]
    [InlineData("$1a\r\n", "Protocol error: invalid bulk length")]
    [InlineData("$1a", "Protocol error: invalid bulk length")]
    [InlineData("$\r\n", "Protocol error: invalid bulk length")]
    [InlineData("$ 1\r\n", "Protocol error: invalid bulk length")]
    [InlineData("$3\rx", "Protocol error: invalid bulk length")]
    [InlineData("$3\n", "Protocol error: invalid bulk length")]
    [InlineData("$3\r\nabcd", "Protocol error: bulk payload not followed by CRLF")]
    [InlineData("$3\r\nabc\rx", "Protocol error: bulk payload not followed by CRLF")]
    [InlineData("$536870913\r\n", "Protocol error: invalid bulk length")]
    [InlineData("$99999999999999999999999\r\n", "Protocol error: invalid bulk length")]
    [InlineData("!-1\r\n", "Protocol error: invalid bulk length")]
    [InlineData("=3\r\ntxt\r\n", "Protocol error: invalid bulk length")]
    [InlineData("*-2\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("*x\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("%-1\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("*1\r\n*1\r\n$-5\r\n", "Protocol error: invalid bulk length")]
    [InlineData(":12a\r\n", "Protocol error: invalid integer")]
    [InlineData(":\r\n", "Protocol error: invalid integer")]
    [InlineData(":9223372036854775808\r\n", "Protocol error: invalid integer")]
    [InlineData(",1.2.3\r\n", "Protocol error: invalid double")]
    [InlineData(",abc", "Protocol error: invalid double")]
    [InlineData(",\r\n", "Protocol error: invalid double")]
    [InlineData("#x\r\n", "Protocol error: invalid boolean")]
    [InlineData("#tt", "Protocol error: invalid boolean")]
    [InlineData("_x", "Protocol error: invalid null")]
    [InlineData("(12a\r\n", "Protocol error: invalid big number")]
    [InlineData("(-\r\n", "Protocol error: invalid big number")]
    [InlineData("(\r\n", "Protocol error: invalid big number")]
    [InlineData("+OK\rx", "Protocol error: invalid simple string")]
    [InlineData("+O\nK\r\n", "Protocol error: invalid simple string")]
    [InlineData("-ERR\n", "Protocol error: invalid error line")]
    public void TryScan_MalformedInput_ReturnsRedisStyleError(string input, string expected)
    {
        byte[] data = Bytes(input);

        Assert.Equal(RespScanStatus.Error, Scan(data, out string? error));
        Assert.Equal(expected, error);
        Assert.Equal(RespScanStatus.Error, Scan(SegmentedSequence.BytePerSegment(data), out _, out _));
    }

    [Fact]
    public void TryScan_NumberLineWithoutEnd_IsErrorOnceTooLong()
    {
        Assert.Equal(RespScanStatus.Incomplete, Scan(Bytes(":" + new string('0', 64)), out _));
        Assert.Equal(RespScanStatus.Error, Scan(Bytes(":" + new string('0', 65)), out string? error));
        Assert.Equal("Protocol error: invalid integer", error);
    }

    [Fact]
    public void TryScan_OverLimits_ReturnsError()
    {
        var limits = new RespLimits { MaxBulkLength = 10, MaxArrayLength = 3, MaxNestingDepth = 2 };

        Assert.Equal(RespScanStatus.Complete, Scan(Bytes("$10\r\n0123456789\r\n"), out _, limits));
        Assert.Equal(RespScanStatus.Error, Scan(Bytes("$11\r\n"), out string? bulk, limits));
        Assert.Equal("Protocol error: invalid bulk length", bulk);
        Assert.Equal(RespScanStatus.Error, Scan(Bytes("*4\r\n"), out string? array, limits));
        Assert.Equal("Protocol error: invalid multibulk length", array);
        Assert.Equal(RespScanStatus.Error, Scan(Bytes("%4\r\n"), out _, limits));
        Assert.Equal(RespScanStatus.Complete, Scan(Bytes("*1\r\n*1\r\n:1\r\n"), out _, limits));
        Assert.Equal(RespScanStatus.Error, Scan(Bytes("*1\r\n*1\r\n*1\r\n"), out string? nesting, limits));
        Assert.Equal("Protocol error: nesting too deep", nesting);
        Assert.Equal(RespScanStatus.Error, Scan(Bytes("*1\r\n|1\r\n*1\r\n"), out _, limits));
        Assert.Equal(RespScanStatus.Error, Scan(Bytes("+" + new string('a', 11)), out string? line, limits));
        Assert.Equal("Protocol error: too long simple string", line);
    }

    [Fact]
    public void TryScan_DefaultNestingLimit_Allows64AndRejects65()
    {
        Assert.Equal(RespScanStatus.Complete, Scan(Bytes(string.Concat(Enumerable.Repeat("*1\r\n", 64)) + ":1\r\n"), out _));
        Assert.Equal(RespScanStatus.Error, Scan(Bytes(string.Concat(Enumerable.Repeat("*1\r\n", 65))), out string? error));
        Assert.Equal("Protocol error: nesting too deep", error);
    }

    [Fact]
    public void RespLimits_NestingBelowOne_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RespLimits { MaxNestingDepth = 0 });
    }

    [Theory]
    [InlineData(8000, false)]
    [InlineData(3000, true)]
    public void TryScan_ReplyNestedThousandsDeep_CompleteWithReplyLimits(int depth, bool siblingAfterEachChild)
    {
        // A Lua table nested thousands of levels deep: each level holds the next (and, with siblings, one more value).
        var open = siblingAfterEachChild ? "*2\r\n" : "*1\r\n";
        var siblings = siblingAfterEachChild ? string.Concat(Enumerable.Repeat(":1\r\n", depth)) : string.Empty;
        var frame = Bytes(string.Concat(Enumerable.Repeat(open, depth)) + ":1\r\n" + siblings);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(frame));
        var state = default(RespScanState);
        Assert.Equal(RespScanStatus.Complete, RespFrameScanner.TryScan(ref reader, RespLimits.Replies, ref state, out var error));
        Assert.Null(error);
        Assert.Equal(frame.Length, reader.Consumed);

        // Growing prefixes: the resumable state carries the deep levels across reads.
        var partial = default(RespScanState);
        for (var cut = 1; cut < frame.Length; cut += 997)
        {
            var prefix = new SequenceReader<byte>(new ReadOnlySequence<byte>(frame, 0, cut));
            Assert.Equal(RespScanStatus.Incomplete, RespFrameScanner.TryScan(ref prefix, RespLimits.Replies, ref partial, out _));
        }

        var whole = new SequenceReader<byte>(new ReadOnlySequence<byte>(frame));
        Assert.Equal(RespScanStatus.Complete, RespFrameScanner.TryScan(ref whole, RespLimits.Replies, ref partial, out _));
    }

    [Fact]
    public void TryScan_GeneratedFrames_EveryPrefixIncompleteAndResumableScanAgrees()
    {
        Property property = Prop.ForAll(Arb.From(RespGenerators.Value), value =>
        {
            byte[] data = Write(value);
            for (int length = 0; length < data.Length; length++)
            {
                if (Scan(new ReadOnlySequence<byte>(data, 0, length), out _, out string? error) != RespScanStatus.Incomplete)
                {
                    return false.Label($"prefix {length}: {error}");
                }
            }

            return (ScanResumably(data) == data.Length).Label("resumable");
        });

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(200), property);
    }

    [Fact]
    public void TryScan_RandomBytes_NeverThrowsAndAgreesWithResumableScan()
    {
        Property property = Prop.ForAll(Arb.From(RespGenerators.ProtocolNoise), data =>
        {
            RespScanStatus whole = Scan(new ReadOnlySequence<byte>(data), out long consumed, out string? error);
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data));
            _ = RespValue.TryRead(ref reader, RespLimits.Default, out _, out _);
            bool consistent = whole switch
            {
                RespScanStatus.Complete => consumed > 0 && consumed <= data.Length,
                RespScanStatus.Error => error is not null && error.StartsWith("Protocol error: ", StringComparison.Ordinal),
                _ => error is null,
            };

            // Feeding the same bytes one at a time must reach the same verdict.
            RespScanStatus stepwise = ScanStepwise(data, out long stepConsumed);
            return consistent && stepwise == whole && (whole != RespScanStatus.Complete || stepConsumed == consumed);
        });

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(1000), property);
    }

    /// <summary>Scans with one state over growing prefixes; returns the frame length.</summary>
    private static long ScanResumably(byte[] data)
    {
        RespScanStatus status = ScanStepwise(data, out long consumed);
        Assert.Equal(RespScanStatus.Complete, status);
        return consumed;
    }

    private static RespScanStatus ScanStepwise(byte[] data, out long consumed)
    {
        RespScanState state = default;
        consumed = 0;
        for (int length = 0; length <= data.Length; length++)
        {
            var reader = new SequenceReader<byte>(SegmentedSequence.Split(data[..length], [length / 2]));
            RespScanStatus status = RespFrameScanner.TryScan(ref reader, RespLimits.Default, ref state, out _);
            if (status != RespScanStatus.Incomplete)
            {
                consumed = reader.Consumed;
                return status;
            }
        }

        return RespScanStatus.Incomplete;
    }

    private static string Escape(string text) => text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}
