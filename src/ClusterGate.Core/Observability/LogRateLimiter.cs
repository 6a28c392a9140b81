namespace ClusterGate.Core.Observability;

/// <summary>
/// At most <see cref="Limit"/> events per <see cref="Interval"/>, for events a client causes at will (a protocol
/// error per connection: a client opening thousands of connections that each send garbage must not flood the log).
/// The rest are counted. When the window they fell in ends, the count is handed to the summary callback (one line for
/// the lot), so the log says how many it left out even when no event follows; without a callback, or when an event is
/// let through first, that event carries the count. One per frontend, shared by all its sessions; a window starts with
/// the first event after the previous one ended.
/// </summary>
internal sealed class LogRateLimiter : IDisposable
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly Action<int>? _summary;
    private long _windowStart;
    private int _taken;
    private int _suppressed;
    private ITimer? _windowEnd;
    private bool _disposed;

    public LogRateLimiter(int limit, TimeSpan interval, TimeProvider time, Action<int>? summary = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(interval, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(time);
        Limit = limit;
        Interval = interval;
        _time = time;
        _summary = summary;
    }

    public int Limit { get; }

    public TimeSpan Interval { get; }

    /// <summary>
    /// True when this event is to be logged; <paramref name="suppressed"/> is then the number left out since the
    /// last one logged or summarised. False when the window's events are used up (the event is counted).
    /// </summary>
    public bool TryAcquire(out int suppressed)
    {
        // Read outside the lock; a caller that waited for the lock compares a slightly earlier time, which only
        // matters at a window's edge.
        var now = _time.GetTimestamp();
        lock (_gate)
        {
            var elapsed = _time.GetElapsedTime(_windowStart, now);
            if (_taken == 0 || elapsed >= Interval)
            {
                _windowStart = now;
                _taken = 0;
                elapsed = TimeSpan.Zero;
            }

            if (_taken < Limit)
            {
                _taken++;
                suppressed = _suppressed;
                _suppressed = 0;
                return true;
            }

            if (_suppressed++ == 0 && _summary is not null && !_disposed)
            {
                // The first event this window leaves out: its count is summarised when the window ends.
                _windowEnd?.Dispose();
                _windowEnd = _time.CreateTimer(_ => Summarise(), null, Interval - elapsed, Timeout.InfiniteTimeSpan);
            }

            suppressed = 0;
            return false;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _windowEnd?.Dispose();
            _windowEnd = null;
        }
    }

    private void Summarise()
    {
        int count;
        lock (_gate)
        {
            count = _suppressed;
            _suppressed = 0;
            _windowEnd?.Dispose();
            _windowEnd = null;
            if (_disposed)
            {
                return;
            }
        }

        if (count > 0)
        {
            _summary!(count);
        }
    }
}
