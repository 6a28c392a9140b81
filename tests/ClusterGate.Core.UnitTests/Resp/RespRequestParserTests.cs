using System.Buffers;
using System.Text;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static ClusterGate.Core.UnitTests.Resp.RespTestFrames;

namespace ClusterGate.Core.UnitTests.Resp;

public sealed class RespRequestParserTests
{
    [Fact]
    public void TryParse_ArrayOfBulkStrings_ExposesArgumentsAndFrame()
    {
        const string Frame = "*3\r\n$3\r\nset\r\n$3\r\nk\r\n\r\n$0\r\n\r\n";
        using var request = new RespRequest();

        RespScanStatus status = Parse(Bytes(Frame + "*1\r\n"), request, out long consumed, out _);

        Assert.Equal(RespScanStatus.Complete, status);
        Assert.Equal(Frame.Length, consumed);
        Assert.False(request.IsInline);
        Assert.Equal(3, request.Count);
        Assert.Equal(Frame, Latin(request.Frame));
        Assert.True(request.ArgumentEquals(0, "SET"u8));
        Assert.False(request.ArgumentEquals(0, "GET"u8));
        Assert.False(request.ArgumentEquals(0, "SETX"u8));
        Assert.Equal("k\r\n", Latin(request.Argument(1)));
        Assert.Equal(3, request.ArgumentLength(1));
        Assert.Equal(0, request.ArgumentLength(2));
        Assert.Equal("set", request.ArgumentToString(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => request.Argument(3));
    }

    [Theory]
    [InlineData("*2\r\n$3\r\nGET\r\n$5\r\nmykey\r\n")]
    [InlineData("*0\r\n")]
    [InlineData("*-1\r\n")]
    [InlineData("SET \"a b\" 'c d' e\r\n")]
    [InlineData("PING\n")]
    [InlineData("\r\n")]
    public void TryParse_EverySplitAndEveryPrefix_GivesSameRequest(string frame)
    {
        byte[] data = Bytes(frame);
        using var expected = new RespRequest();
        Assert.Equal(RespScanStatus.Complete, Parse(data, expected, out _, out _));
        string[] expectedArguments = Arguments(expected);

        using var request = new RespRequest();
        for (int cut = 0; cut <= data.Length; cut++)
        {
            Assert.Equal(RespScanStatus.Complete, Parse(SegmentedSequence.Split(data, [cut, cut, cut + 1]), request, out long consumed, out _));
            Assert.Equal(data.Length, consumed);
            Assert.Equal(expectedArguments, Arguments(request));
            Assert.Equal(frame, Latin(request.Frame));
        }

        for (int length = 0; length < data.Length; length++)
        {
            using var fresh = new RespRequest();
            Assert.Equal(RespScanStatus.Incomplete, Parse(data[..length], fresh, out _, out _));
        }

        // One request object over growing prefixes, as a connection would use it.
        using var resumed = new RespRequest();
        for (int length = 0; length <= data.Length; length++)
        {
            RespScanStatus status = Parse(SegmentedSequence.Split(data[..length], [length / 3, length / 2]), resumed, out long consumed, out _);
            Assert.Equal(length == data.Length ? RespScanStatus.Complete : RespScanStatus.Incomplete, status);
            if (status == RespScanStatus.Complete)
            {
                Assert.Equal(data.Length, consumed);
            }
        }

        Assert.Equal(expectedArguments, Arguments(resumed));
        Assert.Equal(frame, Latin(resumed.Frame));
    }

    [Theory]
    [InlineData("GET key\r\n", new[] { "GET", "key" })]
    [InlineData("  set\tkey   value \n", new[] { "set", "key", "value" })]
    [InlineData("SET k \"a\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"\\z\"\r\n", new[] { "SET", "k", "aAJ\n\r\t\b\a\\\"z" })]
    [InlineData("SET k 'it\\'s \"x\" \\n'\r\n", new[] { "SET", "k", "it's \"x\" \\n" })]
    [InlineData("a\"b c\" d\r\n", new[] { "ab c", "d" })]
    [InlineData("\"\" ''\r\n", new[] { "", "" })]
    [InlineData("\"\\x4\"\r\n", new[] { "x4" })]
    [InlineData("a\rb\r\n", new[] { "a", "b" })]
    [InlineData("a\0b c\r\n", new[] { "a" })]
    [InlineData("\r\n", new string[0])]
    [InlineData("\n", new string[0])]
    [InlineData(" \t \r\n", new string[0])]
    public void TryParse_InlineCommand_SplitsLikeRedis(string line, string[] expected)
    {
        using var request = new RespRequest();

        Assert.Equal(RespScanStatus.Complete, Parse(Bytes(line), request, out long consumed, out _));

        Assert.True(request.IsInline);
        Assert.Equal(line.Length, consumed);
        Assert.Equal(line, Latin(request.Frame));
        Assert.Equal(expected, Arguments(request));
    }

    [Theory]
    [InlineData("SET \"abc\r\n")]
    [InlineData("SET 'abc\r\n")]
    [InlineData("SET \"a\"b\r\n")]
    [InlineData("SET 'a'b\r\n")]
    [InlineData("a\"b c\"d\r\n")]
    [InlineData("SET \"abc\\\"\r\n")]
    public void TryParse_UnbalancedQuotes_ReturnsError(string line)
    {
        using var request = new RespRequest();

        Assert.Equal(RespScanStatus.Error, Parse(Bytes(line), request, out _, out string? error));
        Assert.Equal("Protocol error: unbalanced quotes in request", error);
    }

    [Theory]
    [InlineData("*1\r\n:1\r\n", "Protocol error: expected '$', got ':'")]
    [InlineData("*2\r\n$1\r\na\r\n*1\r\n", "Protocol error: expected '$', got '*'")]
    [InlineData("*x\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("*1x", "Protocol error: invalid multibulk length")]
    [InlineData("*1\r\n$-1\r\n", "Protocol error: invalid bulk length")]
    [InlineData("*1\r\n$a", "Protocol error: invalid bulk length")]
    [InlineData("*1\r\n$1\r\nab", "Protocol error: bulk payload not followed by CRLF")]
    [InlineData("*1\r\n$1\r\na\rb", "Protocol error: bulk payload not followed by CRLF")]
    [InlineData("*1\r\n$536870913\r\n", "Protocol error: invalid bulk length")]
    public void TryParse_MalformedArray_ReturnsRedisStyleError(string input, string expected)
    {
        using var request = new RespRequest();

        Assert.Equal(RespScanStatus.Error, Parse(Bytes(input), request, out _, out string? error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void TryParse_OverLimits_ReturnsError()
    {
        var limits = new RespLimits { MaxArrayLength = 2, MaxBulkLength = 3, MaxInlineLength = 8 };
        using var request = new RespRequest();

        Assert.Equal(RespScanStatus.Error, Parse(Bytes("*3\r\n"), request, out _, out string? array, limits));
        Assert.Equal("Protocol error: invalid multibulk length", array);
        Assert.Equal(RespScanStatus.Error, Parse(Bytes("*1\r\n$4\r\n"), request, out _, out string? bulk, limits));
        Assert.Equal("Protocol error: invalid bulk length", bulk);
        Assert.Equal(RespScanStatus.Complete, Parse(Bytes("12345678\r\n"), request, out _, out _, limits));
        Assert.Equal(RespScanStatus.Incomplete, Parse(Bytes("12345678\r"), request, out _, out _, limits));
        Assert.Equal(RespScanStatus.Error, Parse(Bytes("123456789\r\n"), request, out _, out string? inline, limits));
        Assert.Equal("Protocol error: too big inline request", inline);
        Assert.Equal(RespScanStatus.Error, Parse(Bytes("123456789"), request, out _, out _, limits));
        Assert.Equal(RespScanStatus.Error, Parse(Bytes("12345678xy"), request, out _, out _, limits));
    }

    [Fact]
    public void TryParse_DefaultLimits_RejectsInlineLineAbove64KiBWithoutNewline()
    {
        using var request = new RespRequest();
        byte[] line = new byte[(64 * 1024) + 2];
        line.AsSpan().Fill((byte)'a');

        Assert.Equal(RespScanStatus.Error, Parse(line, request, out _, out string? error));
        Assert.Equal("Protocol error: too big inline request", error);
    }

    [Fact]
    public void TryParse_PipelinedRequests_ParsesOneByOne()
    {
        byte[] data = Bytes("*1\r\n$4\r\nPING\r\nECHO \"hi there\"\r\n\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        var reader = new SequenceReader<byte>(SegmentedSequence.BytePerSegment(data));
        using var request = new RespRequest();
        var seen = new List<string>();

        while (!reader.End)
        {
            Assert.Equal(RespScanStatus.Complete, RespRequestParser.TryParse(ref reader, RespLimits.Default, request, out _));
            seen.Add(string.Join(' ', Arguments(request)));
        }

        Assert.Equal(["PING", "ECHO hi there", "", "GET k"], seen);
    }

    [Fact]
    public void TryGetArgumentInt64_RedisRules_AcceptsCanonicalIntegersOnly()
    {
        using var request = new RespRequest();
        Assert.Equal(RespScanStatus.Complete, Parse(Bytes("X 0 -12 9223372036854775807 -9223372036854775808 01 +1 -0 9223372036854775808 1a ''\r\n"), request, out _, out _));

        long[] expected = [0, -12, long.MaxValue, long.MinValue];
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(request.TryGetArgumentInt64(i + 1, out long value));
            Assert.Equal(expected[i], value);
        }

        for (int i = expected.Length + 1; i < request.Count; i++)
        {
            Assert.False(request.TryGetArgumentInt64(i, out _), request.ArgumentToString(i));
        }
    }

    [Fact]
    public void ArgumentEquals_MultiSegmentArgument_ComparesCaseInsensitively()
    {
        using var request = new RespRequest();
        byte[] data = Bytes("*1\r\n$7\r\ncLuStEr\r\n");

        Assert.Equal(RespScanStatus.Complete, Parse(SegmentedSequence.BytePerSegment(data), request, out _, out _));

        Assert.True(request.ArgumentEquals(0, "CLUSTER"u8));
        Assert.False(request.ArgumentEquals(0, "CLUSTEX"u8));
        Assert.False(request.ArgumentEquals(0, "CLUSTE"u8));
    }

    [Fact]
    public void TryParse_AfterWarmUp_DoesNotAllocate()
    {
        ReadOnlySequence<byte> sequence = SegmentedSequence.Split(Bytes("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\nGET \"a\\x41\"\r\n"), [5, 20]);
        using var request = new RespRequest();
        Assert.Equal(2, ParseAll(sequence, request));

        long before = GC.GetAllocatedBytesForCurrentThread();
        int commands = ParseAll(sequence, request);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(2, commands);
        Assert.Equal(0, allocated);

        static int ParseAll(ReadOnlySequence<byte> sequence, RespRequest request)
        {
            var reader = new SequenceReader<byte>(sequence);
            int commands = 0;
            while (RespRequestParser.TryParse(ref reader, RespLimits.Default, request, out _) == RespScanStatus.Complete
                && (request.ArgumentEquals(0, "SET"u8) || request.ArgumentEquals(0, "GET"u8))
                && HashSlot.Compute(request.Argument(1)) >= 0)
            {
                commands++;
            }

            return commands;
        }
    }

    [Fact]
    public void TryParse_GeneratedCommands_ArgumentsEqualOriginalBytesAtAnySplit()
    {
        Gen<byte[]> argument = Gen.Choose(0, 12).SelectMany(n => Gen.ArrayOf(Gen.Choose(0, 255).Select(static b => (byte)b), n));
        Gen<(byte[][] Arguments, int[] Cuts)> input =
            from arguments in Gen.Choose(1, 6).SelectMany(n => Gen.ArrayOf(argument, n))
            from cuts in Gen.ArrayOf(Gen.Choose(0, 200), 4)
            select (arguments, cuts);

        using var request = new RespRequest();
        Property property = Prop.ForAll(Arb.From(input), test =>
        {
            var buffer = new ArrayBufferWriter<byte>();
            RespWriter.WriteArrayHeader(buffer, test.Arguments.Length);
            foreach (byte[] arg in test.Arguments)
            {
                RespWriter.WriteBulkString(buffer, arg);
            }

            byte[] data = buffer.WrittenSpan.ToArray();
            RespScanStatus status = Parse(SegmentedSequence.Split(data, test.Cuts), request, out long consumed, out _);
            return status == RespScanStatus.Complete
                && consumed == data.Length
                && request.Count == test.Arguments.Length
                && request.Frame.ToArray().AsSpan().SequenceEqual(data)
                && test.Arguments.Select((a, i) => request.Argument(i).ToArray().AsSpan().SequenceEqual(a) && request.ArgumentLength(i) == a.Length).All(static ok => ok);
        });

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), property);
    }

    [Fact]
    public void TryParse_RandomBytes_NeverThrows()
    {
        using var request = new RespRequest();
        Property property = Prop.ForAll(Arb.From(RespGenerators.ProtocolNoise), data =>
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data));
            int parsed = 0;
            while (!reader.End && parsed++ <= data.Length)
            {
                RespScanStatus status = RespRequestParser.TryParse(ref reader, RespLimits.Default, request, out string? error);
                if (status == RespScanStatus.Error)
                {
                    return error!.StartsWith("Protocol error: ", StringComparison.Ordinal);
                }

                if (status == RespScanStatus.Incomplete)
                {
                    request.Dispose();
                    return error is null;
                }
            }

            return true;
        });

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(1000), property);
    }

    private static RespScanStatus Parse(byte[] data, RespRequest request, out long consumed, out string? error, RespLimits? limits = null) =>
        Parse(new ReadOnlySequence<byte>(data), request, out consumed, out error, limits);

    private static RespScanStatus Parse(ReadOnlySequence<byte> data, RespRequest request, out long consumed, out string? error, RespLimits? limits = null)
    {
        var reader = new SequenceReader<byte>(data);
        RespScanStatus status = RespRequestParser.TryParse(ref reader, limits ?? RespLimits.Default, request, out error);
        consumed = reader.Consumed;
        return status;
    }

    private static string[] Arguments(RespRequest request) =>
        [.. Enumerable.Range(0, request.Count).Select(i => Latin(request.Argument(i)))];

    private static string Latin(ReadOnlySequence<byte> bytes) => Encoding.Latin1.GetString(bytes);
}
