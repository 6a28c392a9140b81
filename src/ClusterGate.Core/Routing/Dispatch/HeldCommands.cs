namespace ClusterGate.Core.Routing.Dispatch;

/// <summary>
/// Commands waiting for the topology to give them a master (a crash before the promotion, CLUSTERDOWN, a redirect
/// to a node not known yet), each until its own deadline: the hold time from when it first had to wait.
/// </summary>
internal sealed class HeldCommands(TimeProvider time, TimeSpan holdTimeout)
{
    private readonly Lock _gate = new();
    private readonly List<RoutedCommand> _held = [];

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _held.Count;
            }
        }
    }

    /// <summary>
    /// Holds <paramref name="request"/>, remembering <paramref name="error"/> as what it gets if the time runs out.
    /// False when its hold time is already over (the caller answers it). <paramref name="first"/>: it just started to wait.
    /// </summary>
    public bool TryHold(RoutedCommand request, byte[]? error, out bool first)
    {
        var now = time.GetUtcNow();
        first = request.HoldUntil is null;
        request.HoldUntil ??= now + holdTimeout;
        if (error is not null)
        {
            request.LastError = error;
        }

        if (now >= request.HoldUntil)
        {
            return false;
        }

        lock (_gate)
        {
            _held.Add(request);
        }

        return true;
    }

    /// <summary>Every held command (a new snapshot arrived: route them all again).</summary>
    public List<RoutedCommand>? TakeAll()
    {
        lock (_gate)
        {
            if (_held.Count == 0)
            {
                return null;
            }

            List<RoutedCommand> all = [.. _held];
            _held.Clear();
            return all;
        }
    }

    /// <summary>The held commands whose time is over, oldest first.</summary>
    public List<RoutedCommand>? TakeExpired()
    {
        var now = time.GetUtcNow();
        List<RoutedCommand>? expired = null;
        lock (_gate)
        {
            for (var i = 0; i < _held.Count; i++)
            {
                if (_held[i].HoldUntil <= now)
                {
                    (expired ??= []).Add(_held[i]);
                }
            }

            if (expired is not null)
            {
                _held.RemoveAll(r => r.HoldUntil <= now);
            }
        }

        return expired;
    }
}
