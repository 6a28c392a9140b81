namespace ClusterGate.Core.Backends.Shared;

/// <summary>How the shared connections to one node are opened.</summary>
internal sealed record SharedPoolOptions(int ConnectionsPerNode, TimeSpan ConnectTimeout, string? User, string? Password);

/// <summary>
/// The shared, pipelined connections to each node: a fixed number per node, a client's commands to one node always
/// on the same one (chosen by its key), so they run in order. A dead connection's place is taken by a new one,
/// opened on first use.
/// </summary>
internal sealed class SharedConnectionPool
{
    private readonly ISharedConnectionOwner _owner;
    private readonly IBackendConnector _connector;
    private readonly SharedPoolOptions _options;
    private readonly CancellationToken _stopping;
    private readonly Lock _gate = new();
    private readonly Dictionary<(string NodeId, int Protocol), SharedConnection?[]> _pool = [];

    public SharedConnectionPool(ISharedConnectionOwner owner, IBackendConnector connector, SharedPoolOptions options, CancellationToken stopping)
    {
        _owner = owner;
        _connector = connector;
        _options = options;
        _stopping = stopping;
    }

    /// <summary>
    /// The connection for <paramref name="key"/> to a node, opened when missing, dead or pointing at an old address.
    /// <paramref name="slots"/> is the node's array of connections, stable while the pool's size stays the same.
    /// </summary>
    public SharedConnection Get(string nodeId, NodeEndpoint connect, long key, out SharedConnection?[] slots, int protocol = 2)
    {
        lock (_gate)
        {
            return GetLocked(nodeId, connect, key, protocol, out slots, confirm: null);
        }
    }

    /// <summary>The pool's connections by state now, for the metrics.</summary>
    public (int Connected, int Connecting) CountStates()
    {
        var connected = 0;
        var connecting = 0;
        lock (_gate)
        {
            foreach (var connections in _pool.Values)
            {
                foreach (var connection in connections)
                {
                    if (connection is null || connection.IsDead)
                    {
                        continue;
                    }

                    if (connection.IsConnected)
                    {
                        connected++;
                    }
                    else
                    {
                        connecting++;
                    }
                }
            }
        }

        return (connected, connecting);
    }

    public void Remove(SharedConnection connection)
    {
        lock (_gate)
        {
            RemoveLocked(connection);
        }
    }

    /// <summary>
    /// Retires a dead connection: commands it sent come back (their outcome is unknown); commands still waiting to
    /// be sent never left, and go first, in their order, on a replacement to the same node (at
    /// <paramref name="connect"/>, opened only once <paramref name="confirm"/> says the node is still up). All under
    /// the pool's lock, which a client needs to find the replacement, so a client's later commands queue behind its
    /// earlier ones and its writes keep their order. What the replacement cannot take comes back as stranded.
    /// </summary>
    public (List<SharedRequest> Sent, List<SharedRequest>? Stranded, SharedConnection? Replacement) RetireAndReplace(
        SharedConnection lost, NodeEndpoint connect, Func<CancellationToken, Task<bool>> confirm)
    {
        lock (_gate)
        {
            var (sent, unsent) = lost.Retire();
            RemoveLocked(lost);
            if (unsent.Count == 0)
            {
                return (sent, null, null);
            }

            if (_stopping.IsCancellationRequested)
            {
                return (sent, unsent, null);
            }

            var replacement = GetLocked(lost.NodeId, connect, lost.PoolKey, lost.Protocol, out _, confirm);
            List<SharedRequest>? stranded = null;
            foreach (var request in unsent)
            {
                if (!replacement.TryEnqueue(request))
                {
                    (stranded ??= []).Add(request);
                }
            }

            return (sent, stranded, replacement);
        }
    }

    /// <summary>
    /// Retires every connection to a node <paramref name="superseded"/> names (a master that failed and was
    /// replaced): what each had sent and what it still held unsent, in order. The caller aborts them.
    /// </summary>
    public List<(SharedConnection Connection, List<SharedRequest> Sent, List<SharedRequest> Unsent)>? RetireWhere(Func<string, bool> superseded)
    {
        List<(SharedConnection, List<SharedRequest>, List<SharedRequest>)>? retired = null;
        lock (_gate)
        {
            foreach (var ((nodeId, _), connections) in _pool)
            {
                if (!superseded(nodeId))
                {
                    continue;
                }

                for (var i = 0; i < connections.Length; i++)
                {
                    if (connections[i] is { } connection)
                    {
                        var (sent, unsent) = connection.Retire();
                        (retired ??= []).Add((connection, sent, unsent));
                        Volatile.Write(ref connections[i], null);
                    }
                }
            }
        }

        return retired;
    }

    /// <summary>
    /// Connections with commands out and no reply for longer than <paramref name="timeout"/>, but not to a node that
    /// is <paramref name="busy"/> (in a long script: its replies come when the script ends).
    /// </summary>
    public List<SharedConnection>? Stalled(TimeSpan timeout, Func<string, bool> busy)
    {
        List<SharedConnection>? stalled = null;
        lock (_gate)
        {
            foreach (var connections in _pool.Values)
            {
                foreach (var connection in connections)
                {
                    if (connection is not null && connection.IsStalled(_owner.Time, timeout) && !busy(connection.NodeId))
                    {
                        (stalled ??= []).Add(connection);
                    }
                }
            }
        }

        return stalled;
    }

    public void AbortAll()
    {
        lock (_gate)
        {
            foreach (var connections in _pool.Values)
            {
                foreach (var connection in connections)
                {
                    connection?.Abort();
                }
            }

            _pool.Clear();
        }
    }

    private SharedConnection GetLocked(
        string nodeId, NodeEndpoint connect, long key, int protocol, out SharedConnection?[] slots, Func<CancellationToken, Task<bool>>? confirm)
    {
        var size = Math.Max(1, _options.ConnectionsPerNode);
        if (!_pool.TryGetValue((nodeId, protocol), out var connections) || connections.Length != size)
        {
            connections = new SharedConnection?[size];
            _pool[(nodeId, protocol)] = connections;
        }

        var index = (int)(key % connections.Length);
        var connection = connections[index];
        if (connection is null || connection.IsDead || connection.Connect != connect)
        {
            connection = new SharedConnection(_owner, nodeId, connect, key, protocol) { Group = _owner.GroupOf(nodeId) };
            Volatile.Write(ref connections[index], connection);
            _ = connection.ConnectAsync(_connector, _options.ConnectTimeout, _options.User, _options.Password, confirm, _stopping);
        }

        slots = connections;
        return connection;
    }

    private void RemoveLocked(SharedConnection connection)
    {
        if (_pool.TryGetValue((connection.NodeId, connection.Protocol), out var connections))
        {
            for (var i = 0; i < connections.Length; i++)
            {
                if (ReferenceEquals(connections[i], connection))
                {
                    Volatile.Write(ref connections[i], null);
                }
            }
        }
    }
}
