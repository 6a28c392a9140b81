using System.Buffers;
using ClusterGate.Core.Resp;
using FsCheck;
using FsCheck.Fluent;
using Xunit;
using static ClusterGate.Core.UnitTests.Resp.RespTestFrames;

namespace ClusterGate.Core.UnitTests.Resp;

/// <summary>
/// The fast paths may decline anything, but whatever they accept must be exactly what the full parser
/// and scanner accept, with the same frame; checked on every prefix of valid, odd and malformed input.
/// </summary>
public sealed class RespFastPathTests
{
    public static readonly TheoryData<string> Requests =
    [
        "*2\r\n$3\r\nGET\r\n$5\r\nmykey\r\n",
        "*3\r\n$3\r\nset\r\n$3\r\nk\r\n\r\n$0\r\n\r\n",
        "*1\r\n$4\r\nPING\r\n",
        "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n",
        "*2\r\n$03\r\nGET\r\n$1\r\nk\r\n",
        "*0\r\n",
        "*-1\r\n",
        "*1\r\n$-1\r\n",
        "*2\r\n$3\r\nGET\r\n:1\r\n",
        "*1\r\n$3\r\nGETX\r\n",
        "*1\r\n$3\r\nGE\r\n",
        "*1\n$3\r\nGET\r\n",
        "*1\r\n$99999999999999999999\r\nx\r\n",
        "GET key\r\n",
        "PING\n",
    ];

    [Theory]
    [MemberData(nameof(Requests))]
    public void RequestHead_EveryPrefix_AcceptsOnlyWhatTheParserAcceptsWithTheSameFrame(string text) => AssertRequestHeadAgrees(Bytes(text));

    [Fact]
    public void RequestHead_Limits_DeclinesWhatTheLimitsReject()
    {
        var limits = new RespLimits { MaxArrayLength = 1, MaxBulkLength = 3 };
        Assert.False(Scan("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", limits));
        Assert.False(Scan("*1\r\n$4\r\nPING\r\n", limits));
        Assert.True(Scan("*1\r\n$3\r\nGET\r\n", limits));

        static bool Scan(string text, RespLimits limits) =>
            RespRequestHead.TryScan(Bytes(text), limits, out _, out _, out _, out _, out _, out _);
    }

    [Fact]
    public void RequestHead_Noise_AcceptsOnlyWhatTheParserAccepts()
    {
        Property property = Prop.ForAll(Arb.From(RespGenerators.ProtocolNoise), noise =>
        {
            AssertRequestHeadAgrees(noise);
            return true;
        });

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), property);
    }

    [Theory]
    [InlineData("+OK\r\n")]
    [InlineData("+\r\n")]
    [InlineData("+O\nK\r\n")]
    [InlineData("+OK\r\r\n")]
    [InlineData(":0\r\n")]
    [InlineData(":-42\r\n")]
    [InlineData(":+42\r\n")]
    [InlineData(":12345678901234567890123\r\n")]
    [InlineData("$0\r\n\r\n")]
    [InlineData("$5\r\nhello\r\n")]
    [InlineData("$5\r\nhelloXY")]
    [InlineData("$-1\r\n")]
    [InlineData("$-2\r\n")]
    [InlineData("$005\r\nhello\r\n")]
    [InlineData("-ERR x\r\n")]
    [InlineData("*1\r\n$1\r\nx\r\n")]
    public void SimpleFrame_EveryPrefix_AcceptsOnlyWhatTheScannerAcceptsWithTheSameLength(string text) => AssertSimpleFrameAgrees(Bytes(text));

    [Fact]
    public void SimpleFrame_ValidAndGeneratedFrames_AgreeWithTheScanner()
    {
        foreach (var text in Valid)
        {
            AssertSimpleFrameAgrees(Bytes(text));
        }

        Property property = Prop.ForAll(Arb.From(RespGenerators.Values), values =>
        {
            AssertSimpleFrameAgrees(Write(values));
            return true;
        });

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(300), property);
    }

    private static void AssertRequestHeadAgrees(byte[] data)
    {
        for (var length = 0; length <= data.Length; length++)
        {
            var input = data.AsSpan(0, length);
            if (!RespRequestHead.TryScan(input, RespLimits.Default, out var frame, out var count, out var nameOffset, out var nameLength, out var argumentOffset, out var argumentLength))
            {
                continue;
            }

            using var request = new RespRequest();
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data, 0, length));
            Assert.Equal(RespScanStatus.Complete, RespRequestParser.TryParse(ref reader, RespLimits.Default, request, out _));
            Assert.Equal(reader.Consumed, frame);
            Assert.Equal(request.Count, count);
            Assert.Equal(request.Argument(0).ToArray(), input.Slice(nameOffset, nameLength).ToArray());
            if (request.Count > 1)
            {
                Assert.Equal(request.Argument(1).ToArray(), input.Slice(argumentOffset, argumentLength).ToArray());
            }
            else
            {
                Assert.Equal(-1, argumentLength);
            }
        }
    }

    private static void AssertSimpleFrameAgrees(byte[] data)
    {
        for (var length = 0; length <= data.Length; length++)
        {
            var frame = RespSimpleFrame.TryScan(data.AsSpan(0, length), RespLimits.Default);
            if (frame == 0)
            {
                continue;
            }

            Assert.Equal(RespScanStatus.Complete, Scan(new ReadOnlySequence<byte>(data, 0, length), out var consumed, out _));
            Assert.Equal(consumed, frame);
        }
    }
}
