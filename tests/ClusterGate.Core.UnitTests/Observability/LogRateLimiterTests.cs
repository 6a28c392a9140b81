using ClusterGate.Core.Observability;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace ClusterGate.Core.UnitTests.Observability;

public sealed class LogRateLimiterTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void TryAcquire_UnderLimit_EveryEventLoggedNothingSuppressed()
    {
        var limiter = new LogRateLimiter(3, TimeSpan.FromMinutes(1), _time);

        for (var i = 0; i < 3; i++)
        {
            Assert.True(limiter.TryAcquire(out var suppressed));
            Assert.Equal(0, suppressed);
        }
    }

    [Fact]
    public void TryAcquire_OverLimitInOneInterval_RestSuppressed()
    {
        var limiter = new LogRateLimiter(3, TimeSpan.FromMinutes(1), _time);

        var logged = Enumerable.Range(0, 100).Count(_ => limiter.TryAcquire(out _));

        Assert.Equal(3, logged);
    }

    [Fact]
    public void TryAcquire_AfterIntervalEnds_FirstEventCarriesSuppressedCountOnce()
    {
        var limiter = new LogRateLimiter(2, TimeSpan.FromMinutes(1), _time);
        for (var i = 0; i < 7; i++)
        {
            limiter.TryAcquire(out _);
        }

        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.False(limiter.TryAcquire(out _));                     // still the first window: 6 suppressed now
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.True(limiter.TryAcquire(out var suppressed));
        Assert.Equal(6, suppressed);
        Assert.True(limiter.TryAcquire(out suppressed));
        Assert.Equal(0, suppressed);                                 // reported once
        Assert.False(limiter.TryAcquire(out _));
    }

    [Fact]
    public void TryAcquire_QuietLongerThanInterval_NewWindowStartsAtNextEvent()
    {
        var limiter = new LogRateLimiter(1, TimeSpan.FromMinutes(1), _time);
        Assert.True(limiter.TryAcquire(out _));
        _time.Advance(TimeSpan.FromMinutes(10));

        Assert.True(limiter.TryAcquire(out _));
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.False(limiter.TryAcquire(out _));                     // the window began at the event, not on a fixed grid
    }

    [Fact]
    public async Task TryAcquire_ManyThreads_ExactlyLimitLoggedAndEveryOtherCounted()
    {
        var limiter = new LogRateLimiter(10, TimeSpan.FromMinutes(1), _time);
        var logged = 0;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                if (limiter.TryAcquire(out _))
                {
                    Interlocked.Increment(ref logged);
                }
            }
        })));

        Assert.Equal(10, logged);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(limiter.TryAcquire(out var suppressed));
        Assert.Equal(80_000 - 10, suppressed);
    }

    [Fact]
    public void Summary_WindowWithEventsLeftOutEnds_OneSummaryWithTheCountAndNoEventCarriesItAgain()
    {
        var summaries = new List<int>();
        using var limiter = new LogRateLimiter(2, TimeSpan.FromMinutes(1), _time, summaries.Add);
        for (var i = 0; i < 7; i++)
        {
            limiter.TryAcquire(out _);
        }

        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.Empty(summaries);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal([5], summaries);

        _time.Advance(TimeSpan.FromMinutes(5));
        Assert.True(limiter.TryAcquire(out var suppressed));
        Assert.Equal(0, suppressed);
        Assert.Equal([5], summaries);
    }

    [Fact]
    public void Summary_NothingLeftOut_NoSummary()
    {
        var summaries = new List<int>();
        using var limiter = new LogRateLimiter(3, TimeSpan.FromMinutes(1), _time, summaries.Add);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(limiter.TryAcquire(out _));
        }

        _time.Advance(TimeSpan.FromMinutes(3));
        Assert.Empty(summaries);
    }

    [Fact]
    public void Summary_FloodOverSeveralWindows_OneSummaryPerWindowAtItsEnd()
    {
        var summaries = new List<int>();
        using var limiter = new LogRateLimiter(1, TimeSpan.FromMinutes(1), _time, summaries.Add);
        for (var window = 0; window < 3; window++)
        {
            for (var i = 0; i < 4; i++)
            {
                limiter.TryAcquire(out _);
                _time.Advance(TimeSpan.FromSeconds(10));
            }

            // 40 s into the window: its summary comes at 60 s.
            Assert.Equal(window, summaries.Count);
            _time.Advance(TimeSpan.FromSeconds(20));
            Assert.Equal(window + 1, summaries.Count);
        }

        Assert.Equal([3, 3, 3], summaries);
    }

    [Fact]
    public void Summary_Disposed_NoSummaryAfter()
    {
        var summaries = new List<int>();
        var limiter = new LogRateLimiter(1, TimeSpan.FromMinutes(1), _time, summaries.Add);
        limiter.TryAcquire(out _);
        limiter.TryAcquire(out _);
        limiter.Dispose();

        _time.Advance(TimeSpan.FromMinutes(2));
        Assert.Empty(summaries);
    }
}
