using ClusterGate.Core.Frontends;
using Xunit;

namespace ClusterGate.Core.UnitTests.Frontends;

public sealed class OutputBufferLimitTests
{
    [Theory]
    [InlineData("256mb 64mb 10", 256L << 20, 64L << 20, 10)]
    [InlineData("0 0 0", 0L, 0L, 0)]
    [InlineData("1gb 1k 60", 1L << 30, 1000L, 60)]
    [InlineData("8MB 2Kb 1", 8L << 20, 2048L, 1)]
    public void TryParse_RedisSyntax_ReadsBytesAndSeconds(string text, long hard, long soft, int seconds)
    {
        Assert.True(OutputBufferLimit.TryParse(text, out var limit));
        Assert.Equal(new OutputBufferLimit(hard, soft, TimeSpan.FromSeconds(seconds)), limit);
    }

    [Theory]
    [InlineData("")]
    [InlineData("256mb 64mb")]
    [InlineData("256mb 64mb ten")]
    [InlineData("-1 0 0")]
    [InlineData("256tb 0 0")]
    [InlineData("99999999999999999999 0 0")]
    public void TryParse_NotHardSoftSeconds_False(string text) => Assert.False(OutputBufferLimit.TryParse(text, out _));

    [Fact]
    public void ToString_Default_ParsesBackToItself()
    {
        Assert.True(OutputBufferLimit.TryParse(OutputBufferLimit.RouterDefault.ToString(), out var parsed));
        Assert.Equal(OutputBufferLimit.RouterDefault, parsed);
    }
}
