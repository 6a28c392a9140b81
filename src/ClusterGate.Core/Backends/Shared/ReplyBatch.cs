namespace ClusterGate.Core.Backends.Shared;

/// <summary>Something written to during a batch and flushed once when the batch ends.</summary>
internal interface IBatchFlush
{
    /// <summary>The batch ended: send what was written during it.</summary>
    void FlushAtBatchEnd();
}

/// <summary>
/// The work of one read, handled as one batch: a backend connection's reader handing one read's replies to many
/// clients, or a client's read loop sending one read's commands to several masters. What is written inside it is
/// flushed once at its end (one send per client and per backend connection instead of one per reply or command).
/// Each reader owns one and passes it down the call path; nothing is kept per thread.
/// </summary>
internal sealed class ReplyBatch
{
    private List<IBatchFlush> _connections = [];
    private List<IBatchFlush> _writers = [];

    /// <summary>A backend connection written to: flushed first at the end, so the commands are on their way while replies go out.</summary>
    public void DeferConnection(IBatchFlush connection)
    {
        if (!_connections.Contains(connection))
        {
            _connections.Add(connection);
        }
    }

    /// <summary>A client writer that wrote replies: it still owns its writer and flushes at the end.</summary>
    public void DeferWriter(IBatchFlush writer) => _writers.Add(writer);

    /// <summary>Flushes everything deferred, connections first. A flush may start work that defers again: that lands in fresh lists.</summary>
    public void End()
    {
        while (_connections.Count > 0 || _writers.Count > 0)
        {
            var connections = _connections;
            var writers = _writers;
            _connections = [];
            _writers = [];
            foreach (var connection in connections)
            {
                connection.FlushAtBatchEnd();
            }

            foreach (var writer in writers)
            {
                writer.FlushAtBatchEnd();
            }

            connections.Clear();
            writers.Clear();
            if (_connections.Count == 0 && _writers.Count == 0)
            {
                _connections = connections;
                _writers = writers;
            }
        }
    }
}
