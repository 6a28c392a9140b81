using ClusterGate.Core.Routing.Dispatch;
using Microsoft.Extensions.Time.Testing;
using Xunit;
using static ClusterGate.Core.UnitTests.Routing.Dispatch.DispatchTestData;

namespace ClusterGate.Core.UnitTests.Routing.Dispatch;

public sealed class HeldCommandsTests
{
    private static readonly TimeSpan Hold = TimeSpan.FromSeconds(20);
    private static readonly byte[] ClusterDown = "-CLUSTERDOWN The cluster is down\r\n"u8.ToArray();

    private readonly FakeTimeProvider _time = new(T0);
    private readonly HeldCommands _held;

    public HeldCommandsTests()
    {
        _held = new HeldCommands(_time, Hold);
    }

    [Fact]
    public void TryHold_FirstWait_HeldUntilHoldTimeFromNow()
    {
        var request = Command(1);

        Assert.True(_held.TryHold(request, ClusterDown, out var first));

        Assert.True(first);
        Assert.Equal(T0 + Hold, request.HoldUntil);
        Assert.Same(ClusterDown, request.LastError);
        Assert.Equal(1, _held.Count);
    }

    [Fact]
    public void TryHold_HeldAgainLater_KeepsTheFirstDeadline()
    {
        var request = Command(1);
        _held.TryHold(request, null, out _);
        _held.TakeAll();
        _time.Advance(TimeSpan.FromSeconds(15));

        Assert.True(_held.TryHold(request, null, out var first));

        Assert.False(first);
        Assert.Equal(T0 + Hold, request.HoldUntil);
    }

    [Fact]
    public void TryHold_HoldTimeOver_FalseNotHeldAndErrorKept()
    {
        var request = Command(1);
        _held.TryHold(request, null, out _);
        _held.TakeAll();
        _time.Advance(Hold);

        Assert.False(_held.TryHold(request, ClusterDown, out var first));

        Assert.False(first);
        Assert.Equal(0, _held.Count);
        Assert.Same(ClusterDown, request.LastError);
    }

    [Fact]
    public void TryHold_JustBeforeDeadline_StillHeld()
    {
        var request = Command(1);
        _held.TryHold(request, null, out _);
        _held.TakeAll();
        _time.Advance(Hold - TimeSpan.FromMilliseconds(1));

        Assert.True(_held.TryHold(request, null, out _));
    }

    [Fact]
    public void TryHold_WithoutError_KeepsTheEarlierError()
    {
        var request = Command(1);
        _held.TryHold(request, ClusterDown, out _);
        _held.TakeAll();

        _held.TryHold(request, null, out _);

        Assert.Same(ClusterDown, request.LastError);
    }

    [Fact]
    public void TakeExpired_SomePastTheirDeadline_ReturnsThoseInOrderAndKeepsTheOthers()
    {
        var r1 = Command(1);
        var r2 = Command(2);
        var r3 = Command(3);
        _held.TryHold(r1, null, out _);
        _time.Advance(TimeSpan.FromSeconds(5));
        _held.TryHold(r2, null, out _);
        _time.Advance(TimeSpan.FromSeconds(1));
        _held.TryHold(r3, null, out _);

        _time.Advance(TimeSpan.FromSeconds(19.5));
        var expired = _held.TakeExpired();

        Assert.Equal([r1, r2], expired);
        Assert.Equal(1, _held.Count);
        Assert.Null(_held.TakeExpired());
        _time.Advance(TimeSpan.FromSeconds(0.5));
        Assert.Equal([r3], _held.TakeExpired());
        Assert.Equal(0, _held.Count);
    }

    [Fact]
    public void TakeExpired_NothingDue_NullAndAllStillHeld()
    {
        _held.TryHold(Command(1), null, out _);
        _held.TryHold(Command(2), null, out _);
        _time.Advance(Hold - TimeSpan.FromTicks(1));

        Assert.Null(_held.TakeExpired());
        Assert.Equal(2, _held.Count);
    }

    [Fact]
    public void TakeAll_SomeHeld_ReturnsAllInOrderAndEmpties()
    {
        var r1 = Command(1);
        var r2 = Command(2);
        _held.TryHold(r1, null, out _);
        _held.TryHold(r2, null, out _);

        Assert.Equal([r1, r2], _held.TakeAll());

        Assert.Equal(0, _held.Count);
        Assert.Null(_held.TakeAll());
        Assert.Null(_held.TakeExpired());
    }

    [Fact]
    public void TakeAll_NothingHeld_Null()
    {
        Assert.Null(_held.TakeAll());
    }
}
