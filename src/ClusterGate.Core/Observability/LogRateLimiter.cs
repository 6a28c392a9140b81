namespace ClusterGate.Core.Observability;

/// <summary>
/// At most <see cref="Limit"/> events per <see cref="Interval"/>, for events a client causes at will (a protocol
/// error per connection: a client opening thousands of connections that each send garbage must not flood the log).
/// The rest are counted, and the next event let through carries that count, so the log says how many it left out.
/// One per frontend, shared by all its sessions; a window starts with the first event after the previous one ended.
/// </summary>
internal sealed class LogRateLimiter
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private long _windowStart;
    private int _taken;
    private int _suppressed;

    public LogRateLimiter(int limit, TimeSpan interval, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(time);
        Limit = limit;
        Interval = interval;
        _time = time;
    }

    public int Limit { get; }

    public TimeSpan Interval { get; }

    /// <summary>
    /// True when this event is to be logged; <paramref name="suppressed"/> is then the number left out since the
    /// last one logged. False when the window's events are used up (the event is counted).
    /// </summary>
    public bool TryAcquire(out int suppressed)
    {
        // Read outside the lock; a caller that waited for the lock compares a slightly earlier time, which only
        // matters at a window's edge.
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_taken == 0 || _time.GetElapsedTime(_windowStart, now) >= Interval)
            {
                _windowStart = now;
                _taken = 0;
            }

            if (_taken < Limit)
            {
                _taken++;
                suppressed = _suppressed;
                _suppressed = 0;
                return true;
            }

            _suppressed++;
            suppressed = 0;
            return false;
        }
    }
}
