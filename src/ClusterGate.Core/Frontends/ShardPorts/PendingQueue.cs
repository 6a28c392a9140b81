namespace ClusterGate.Core.Frontends.ShardPorts;

/// <summary>
/// The session's reply order: commands in the order they were sent. One producer at a time (the
/// holder of the send lock) and one consumer (the pump). A short lock around a ring buffer: unlike
/// <see cref="System.Collections.Concurrent.ConcurrentQueue{T}"/>, peeking does not freeze a segment
/// and make every later enqueue allocate a new one.
/// </summary>
internal sealed class PendingQueue
{
    private readonly Queue<PendingCommand> _items = new(64);
    private readonly object _gate = new();

    public bool IsEmpty
    {
        get
        {
            lock (_gate)
            {
                return _items.Count == 0;
            }
        }
    }

    public void Enqueue(PendingCommand command)
    {
        lock (_gate)
        {
            _items.Enqueue(command);
        }
    }

    public bool TryPeek(out PendingCommand command)
    {
        lock (_gate)
        {
            return _items.TryPeek(out command!);
        }
    }

    public bool TryDequeue(out PendingCommand command)
    {
        lock (_gate)
        {
            return _items.TryDequeue(out command!);
        }
    }

    /// <summary>True when some command still waits for a reply from the backend (not a gateway-made one).</summary>
    public bool AnyAwaitingBackend()
    {
        lock (_gate)
        {
            foreach (var command in _items)
            {
                if (command.LocalReply is null)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
