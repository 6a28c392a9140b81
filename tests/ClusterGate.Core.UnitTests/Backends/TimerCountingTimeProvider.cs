using Microsoft.Extensions.Time.Testing;

namespace ClusterGate.Core.UnitTests.Backends;

/// <summary>
/// A fake clock that counts the timers created on it. A wait bounded on the clock starts its timer when the code under
/// test gets to it; advancing the clock before then does nothing for that wait, so a test waits for the timer first.
/// </summary>
internal sealed class TimerCountingTimeProvider : FakeTimeProvider
{
    private int _timersCreated;

    public int TimersCreated => Volatile.Read(ref _timersCreated);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = base.CreateTimer(callback, state, dueTime, period);
        Interlocked.Increment(ref _timersCreated);
        return timer;
    }
}
