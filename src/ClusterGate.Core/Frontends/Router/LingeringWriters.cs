using System.Collections.Concurrent;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>
/// Sessions that left replies unflushed, waiting for the rest of their client's pipeline to join them in one send.
/// If the rest is held (a group without a master), a timer flushes them, so replies already there never wait
/// longer than one period.
/// </summary>
internal sealed class LingeringWriters : IAsyncDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(20);

    private readonly ConcurrentQueue<RouterSession> _sessions = new();
    private readonly ITimer _timer;

    public LingeringWriters(TimeProvider time) => _timer = time.CreateTimer(_ => FlushAll(), null, Period, Period);

    public void Add(RouterSession session) => _sessions.Enqueue(session);

    private void FlushAll()
    {
        var count = _sessions.Count;
        while (count-- > 0 && _sessions.TryDequeue(out var session))
        {
            session.FlushLingering();
        }
    }

    public ValueTask DisposeAsync() => _timer.DisposeAsync();
}
