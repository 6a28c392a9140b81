using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Routing.Dispatch;
using ClusterGate.Core.UnitTests.Resp;
using Xunit;
using static ClusterGate.Core.UnitTests.Routing.Dispatch.DispatchTestData;

namespace ClusterGate.Core.UnitTests.Routing.Dispatch;

public sealed class ReplyPolicyTests
{
    private static readonly DispatchOptions Options = new()
    {
        MaxRedirects = 3,
        TryAgainDelay = TimeSpan.FromMilliseconds(20),
        MaxTryAgain = 12,
    };

    [Theory]
    [InlineData("+OK\r\n")]
    [InlineData(":1\r\n")]
    [InlineData("$3\r\nfoo\r\n")]
    [InlineData("$-1\r\n")]
    [InlineData("*2\r\n$1\r\na\r\n$1\r\nb\r\n")]
    [InlineData("_\r\n")]
    [InlineData("$18\r\n-MOVED 1 h:1\r\nxxxx\r\n")]
    [InlineData("+MOVED 1 10.0.0.2:7001\r\n")]
    public void Decide_NotAnError_Deliver(string reply)
    {
        Assert.Equal(new ReplyDecision(ReplyAction.Deliver), ReplyPolicy.Decide(Reply(reply), Command(1), Options));
    }

    [Theory]
    [InlineData("-ERR unknown command 'FOO'\r\n")]
    [InlineData("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")]
    [InlineData("-NOAUTH Authentication required.\r\n")]
    [InlineData("-CROSSSLOT Keys in request don't hash to the same slot\r\n")]
    [InlineData("-MOVEDX 1 10.0.0.2:7001\r\n")]
    [InlineData("-OOM command not allowed when used memory > 'maxmemory'.\r\n")]
    public void Decide_OtherError_Deliver(string reply)
    {
        Assert.Equal(ReplyAction.Deliver, ReplyPolicy.Decide(Reply(reply), Command(1), Options).Action);
    }

    [Fact]
    public void Decide_Moved_RedirectToNamedAddress()
    {
        var decision = ReplyPolicy.Decide(Reply("-MOVED 3999 10.0.0.2:7001\r\n"), Command(3999), Options);

        Assert.Equal(new ReplyDecision(ReplyAction.Redirect, IsAsk: false, Target: new NodeEndpoint("10.0.0.2", 7001)), decision);
    }

    [Fact]
    public void Decide_Ask_RedirectMarkedAsk()
    {
        var decision = ReplyPolicy.Decide(Reply("-ASK 3999 fe80::1:7001\r\n"), Command(3999), Options);

        Assert.Equal(new ReplyDecision(ReplyAction.Redirect, IsAsk: true, Target: new NodeEndpoint("fe80::1", 7001)), decision);
    }

    [Fact]
    public void Decide_MovedSplitAcrossSegments_RedirectToNamedAddress()
    {
        var bytes = Encoding.ASCII.GetBytes("-MOVED 3999 redis-2.example:7001\r\n");

        for (var cut = 1; cut < bytes.Length; cut++)
        {
            var decision = ReplyPolicy.Decide(SegmentedSequence.Split(bytes, [cut]), Command(3999), Options);
            Assert.Equal(new ReplyDecision(ReplyAction.Redirect, Target: new NodeEndpoint("redis-2.example", 7001)), decision);
        }
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(2, true)]
    [InlineData(3, false)]
    [InlineData(9, false)]
    public void Decide_MovedAfterRedirects_RedirectOnlyBelowTheLimit(int redirects, bool redirect)
    {
        var expected = redirect ? ReplyAction.Redirect : ReplyAction.Deliver;
        var request = Command(3999);
        request.Redirects = redirects;

        Assert.Equal(expected, ReplyPolicy.Decide(Reply("-MOVED 3999 10.0.0.2:7001\r\n"), request, Options).Action);
        Assert.Equal(expected, ReplyPolicy.Decide(Reply("-ASK 3999 10.0.0.2:7001\r\n"), request, Options).Action);
    }

    [Theory]
    [InlineData("-MOVED\r\n")]
    [InlineData("-MOVED 3999\r\n")]
    [InlineData("-MOVED abc 10.0.0.2:7001\r\n")]
    [InlineData("-MOVED 16384 10.0.0.2:7001\r\n")]
    [InlineData("-ASK 3999 10.0.0.2\r\n")]
    [InlineData("-ASK 3999 10.0.0.2:0\r\n")]
    public void Decide_MalformedRedirect_DeliverAsItIs(string reply)
    {
        Assert.Equal(ReplyAction.Deliver, ReplyPolicy.Decide(Reply(reply), Command(3999), Options).Action);
    }

    [Fact]
    public void Decide_TryAgainRepeatedly_BackoffGrowsThenCapsThenDelivers()
    {
        var request = Command(3999);
        var delays = new List<double>();

        for (var i = 0; i < Options.MaxTryAgain; i++)
        {
            var decision = ReplyPolicy.Decide(Reply("-TRYAGAIN Multiple keys request during rehashing of slot\r\n"), request, Options);
            Assert.Equal(ReplyAction.RetryLater, decision.Action);
            delays.Add(decision.Delay.TotalMilliseconds);
        }

        Assert.Equal([20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 200, 200], delays);
        Assert.Equal(Options.MaxTryAgain, request.TryAgains);
        Assert.Equal(ReplyAction.Deliver, ReplyPolicy.Decide(Reply("-TRYAGAIN Multiple keys\r\n"), request, Options).Action);
    }

    [Theory]
    [InlineData("-CLUSTERDOWN The cluster is down\r\n")]
    [InlineData("-CLUSTERDOWN Hash slot not served\r\n")]
    [InlineData("-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n")]
    [InlineData("-LOADING Redis is loading the dataset in memory\r\n")]
    [InlineData("-READONLY You can't write against a read only replica.\r\n")]
    public void Decide_NodeNotServingNow_Hold(string reply)
    {
        var request = Command(3999);
        request.Redirects = Options.MaxRedirects;
        request.TryAgains = Options.MaxTryAgain;

        Assert.Equal(new ReplyDecision(ReplyAction.Hold), ReplyPolicy.Decide(Reply(reply), request, Options));
    }
}
