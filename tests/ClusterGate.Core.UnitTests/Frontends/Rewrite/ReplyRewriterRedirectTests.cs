using System.Buffers;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Frontends.Rewrite;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Topology;
using Xunit;

namespace ClusterGate.Core.UnitTests.Frontends.Rewrite;

public sealed class ReplyRewriterRedirectTests
{
    [Theory]
    [InlineData("moved.resp", false, 12182, 7602)]
    [InlineData("ask.resp", true, 0, 7601)]
    [InlineData("write-to-replica.moved.resp", false, 0, 7605)]
    public void TryParseRedirect_Capture_ReadsKindSlotAndTarget(string capture, bool expectedAsk, int expectedSlot, int expectedPort)
    {
        RespValue error = Wire.ReadCapture(capture);
        Assert.Equal(RespType.Error, error.Type);

        Assert.True(Redirect.TryParse(error.Bytes.Span, out bool isAsk, out int slot, out NodeEndpoint target));

        Assert.Equal(expectedAsk, isAsk);
        Assert.Equal(expectedSlot, slot);
        Assert.Equal(new NodeEndpoint("127.0.0.1", expectedPort), target);
    }

    [Theory]
    [InlineData("MOVED 3999 127.0.0.1:6381", false, 3999, "127.0.0.1", 6381)]
    [InlineData("ASK 0 :7002", true, 0, "", 7002)]
    [InlineData("MOVED 12 ::1:7000", false, 12, "::1", 7000)]
    [InlineData("MOVED 12 [::1]:7000", false, 12, "::1", 7000)]
    [InlineData("MOVED 12 fe80::1%eth0:7000", false, 12, "fe80::1%eth0", 7000)]
    [InlineData("MOVED 3999 node-a.example:7001", false, 3999, "node-a.example", 7001)]
    [InlineData("ASK 16383 ?:65535", true, 16383, "?", 65535)]
    public void TryParseRedirect_ValidPayload_ReadsTarget(string payload, bool expectedAsk, int expectedSlot, string expectedHost, int expectedPort)
    {
        Assert.True(Redirect.TryParse(Encoding.UTF8.GetBytes(payload), out bool isAsk, out int slot, out NodeEndpoint target));

        Assert.Equal(expectedAsk, isAsk);
        Assert.Equal(expectedSlot, slot);
        Assert.Equal(new NodeEndpoint(expectedHost, expectedPort), target);
    }

    [Theory]
    [InlineData("")]
    [InlineData("MOVED")]
    [InlineData("MOVED ")]
    [InlineData("MOVED 3999")]
    [InlineData("MOVED 3999 ")]
    [InlineData("moved 3999 127.0.0.1:6381")]
    [InlineData("ERR unknown command")]
    [InlineData("TRYAGAIN Multiple keys request during rehashing of slot")]
    [InlineData("MOVED  3999 127.0.0.1:6381")]
    [InlineData("MOVED -1 127.0.0.1:6381")]
    [InlineData("MOVED +1 127.0.0.1:6381")]
    [InlineData("MOVED 16384 127.0.0.1:6381")]
    [InlineData("MOVED 123456 127.0.0.1:6381")]
    [InlineData("MOVED abc 127.0.0.1:6381")]
    [InlineData("MOVED 3999 127.0.0.1")]
    [InlineData("MOVED 3999 127.0.0.1:")]
    [InlineData("MOVED 3999 127.0.0.1:0")]
    [InlineData("MOVED 3999 127.0.0.1:65536")]
    [InlineData("MOVED 3999 127.0.0.1:63x")]
    [InlineData("MOVED 3999 127.0.0.1:6381 ")]
    [InlineData("MOVED 3999 127.0.0.1:6381 extra")]
    [InlineData("MOVED 3999 a b:6381")]
    [InlineData("MOVED 3999 [::1:7000")]
    [InlineData("MOVED 3999 [::1]7000")]
    [InlineData("MOVED 3999 [::1]:")]
    [InlineData("MOVED 3999 127.0.0.1:6381\r\n")]
    public void TryParseRedirect_NotARedirect_ReturnsFalse(string payload)
    {
        Assert.False(Redirect.TryParse(Encoding.UTF8.GetBytes(payload), out _, out _, out _));
    }

    [Fact]
    public void TryParseRedirect_SequenceSplitAnywhere_SameAsSpan()
    {
        byte[] payload = "MOVED 12 [::1]:7000"u8.ToArray();

        for (int at = 0; at <= payload.Length; at++)
        {
            ReadOnlySequence<byte> sequence = Segment.Split(payload, at);

            Assert.True(Redirect.TryParse(sequence, out bool isAsk, out int slot, out NodeEndpoint target), $"split at {at}");
            Assert.False(isAsk);
            Assert.Equal(12, slot);
            Assert.Equal(new NodeEndpoint("::1", 7000), target);
        }
    }

    [Fact]
    public void TryParseRedirect_MultiSegmentTooLong_ReturnsFalse()
    {
        byte[] payload = Encoding.ASCII.GetBytes("MOVED 12 " + new string('h', 1000) + ":7000");

        Assert.False(Redirect.TryParse(Segment.Split(payload, 10), out _, out _, out _));
    }

    [Theory]
    [InlineData(false, 3999, "10.0.0.1", 7100, "-MOVED 3999 10.0.0.1:7100\r\n")]
    [InlineData(true, 0, "10.0.0.1", 7101, "-ASK 0 10.0.0.1:7101\r\n")]
    [InlineData(false, 16383, "gw.example", 65535, "-MOVED 16383 gw.example:65535\r\n")]
    [InlineData(false, 12, "::1", 7000, "-MOVED 12 ::1:7000\r\n")]
    public void WriteRedirect_Target_WritesRedisFormat(bool isAsk, int slot, string host, int port, string expected)
    {
        var output = new ArrayBufferWriter<byte>();

        ReplyRewriter.WriteRedirect(output, isAsk, slot, new NodeEndpoint(host, port));

        Assert.Equal(expected, Encoding.UTF8.GetString(output.WrittenSpan));
    }

    [Theory]
    [InlineData("moved.resp")]
    [InlineData("ask.resp")]
    [InlineData("write-to-replica.moved.resp")]
    public void WriteRedirect_ParsedCapture_RewritesOnlyTheAddress(string capture)
    {
        RespValue error = Wire.ReadCapture(capture);
        Assert.True(Redirect.TryParse(error.Bytes.Span, out bool isAsk, out int slot, out _));
        var output = new ArrayBufferWriter<byte>();

        ReplyRewriter.WriteRedirect(output, isAsk, slot, FakeGateway.Port(2));

        byte[] wire = output.WrittenSpan.ToArray();
        RespValue rewritten = Wire.Parse(wire);
        Assert.Equal(RespType.Error, rewritten.Type);
        Lab.AssertNoNodeAddress(wire);
        Assert.True(Redirect.TryParse(rewritten.Bytes.Span, out bool askAgain, out int slotAgain, out NodeEndpoint target));
        Assert.Equal((isAsk, slot, FakeGateway.Port(2)), (askAgain, slotAgain, target));
    }

    [Fact]
    public void WriteRedirect_SlotOutOfRange_Throws()
    {
        var output = new ArrayBufferWriter<byte>();

        Assert.Throws<ArgumentOutOfRangeException>(() => ReplyRewriter.WriteRedirect(output, false, 16384, FakeGateway.Port(0)));
        Assert.Throws<ArgumentOutOfRangeException>(() => ReplyRewriter.WriteRedirect(output, false, -1, FakeGateway.Port(0)));
        Assert.Equal(0, output.WrittenCount);
    }

    [Fact]
    public void WriteRedirect_HostWithSpace_Throws()
    {
        var output = new ArrayBufferWriter<byte>();

        Assert.Throws<ArgumentException>(() => ReplyRewriter.WriteRedirect(output, false, 1, new NodeEndpoint("a b", 1)));
        Assert.Equal(0, output.WrittenCount);
    }
}
