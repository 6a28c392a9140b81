using ClusterGate.Core.Transport;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace ClusterGate.Core.UnitTests.Transport;

public sealed class DescriptorBudgetTests
{
    [Fact]
    public void TryTake_UpToTheReserve_AdmitsThenRefuses()
    {
        var time = new FakeTimeProvider();
        using var budget = new DescriptorBudget(reserve: 10, time, countOpen: () => 50, readLimit: () => 100);

        // 100 - 50 in use - 10 reserve = 40 left: 20 clients of 2.
        var admitted = 0;
        while (budget.TryTake(2))
        {
            admitted++;
        }

        Assert.Equal(20, admitted);
        budget.Return(2);
        Assert.True(budget.TryTake(2));
        Assert.False(budget.TryTake(1));
    }

    [Fact]
    public void TryTake_LimitLoweredAtRunTime_FollowsItAtOnce()
    {
        var time = new FakeTimeProvider();
        long limit = 1000;
        using var budget = new DescriptorBudget(reserve: 10, time, countOpen: () => 50, readLimit: () => limit);
        Assert.True(budget.TryTake(1));

        limit = 60;
        Assert.False(budget.TryTake(1));
        Assert.Equal(60, budget.Limit);

        limit = 1000;
        Assert.True(budget.TryTake(1));
    }

    [Fact]
    public void LimitDroppedToWhatIsHeld_NoClientConnects_SparesGivenBackWithinATenthOfASecond()
    {
        var time = new FakeTimeProvider();
        long limit = 1000;
        using var budget = new DescriptorBudget(reserve: 10, time, countOpen: () => 50, readLimit: () => limit);
        Assert.Equal(0, budget.Exhaustions);

        // prlimit below what the process holds: nothing accepts, yet the runtime must find a descriptor.
        limit = 52;
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, budget.Exhaustions);
        Assert.Equal(50 - DescriptorBudget.SpareCount, budget.InUse);
        Assert.Equal(52, budget.Limit);

        // Nothing more to give back the next time.
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, budget.Exhaustions);
    }

    [Fact]
    public void LimitLowered_ProcessOpenedMoreSinceItCounted_CountedAgainAndSparesGivenBack()
    {
        var time = new FakeTimeProvider();
        long limit = 1000;
        long open = 50;
        using var budget = new DescriptorBudget(reserve: 10, time, countOpen: () => open, readLimit: () => limit);

        // Connections opened on first use since the count; then the limit comes down near them, and an admission
        // reads it first (on io_uring no accept fails to say so).
        open = 100;
        limit = 105;
        if (budget.TryTake(1))
        {
            budget.Return(1);
        }

        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, budget.Exhaustions);
        Assert.Equal(100 - DescriptorBudget.SpareCount, budget.InUse);
    }

    [Fact]
    public void LimitLowered_CannotEvenCount_SparesGivenBack()
    {
        var time = new FakeTimeProvider();
        long limit = 1000;
        long? open = 50;
        using var budget = new DescriptorBudget(reserve: 10, time, countOpen: () => open, readLimit: () => limit);

        // Listing /proc/self/fd needs a descriptor: failing to count under a lowered limit means there is none.
        open = null;
        limit = 90;
        time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, budget.Exhaustions);
    }

    [Fact]
    public void Recount_CountUnavailable_KeepsTheLastKnownValues()
    {
        var time = new FakeTimeProvider();
        long? open = 50;
        long? limit = 100;
        using var budget = new DescriptorBudget(reserve: 10, time, countOpen: () => open, readLimit: () => limit);
        var before = budget.InUse;

        // Out of descriptors, /proc/self/fd cannot even be listed: what was known stays.
        open = null;
        limit = null;
        budget.Recount();
        Assert.Equal(before, budget.InUse);
        Assert.Equal(100, budget.Limit);
    }

    [Fact]
    public void OnExhausted_SparesHeld_GivesThemBackAndCountsIt()
    {
        var time = new FakeTimeProvider();
        using var budget = new DescriptorBudget(reserve: 10, time, countOpen: () => 50, readLimit: () => 100_000);
        budget.OnExhausted();
        Assert.Equal(1, budget.Exhaustions);
    }
}
