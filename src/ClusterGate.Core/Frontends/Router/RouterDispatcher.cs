using System.Buffers;
using System.Globalization;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Frontends.Rewrite;
using ClusterGate.Core.Frontends.ShardPorts;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Topology;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>
/// Sends routed commands to the master that owns their slot over shared connections, and handles
/// everything Redis can answer instead of a result: MOVED (send to the named node, refresh), ASK
/// (ASKING + the command to the importing node), TRYAGAIN (bounded backoff), CLUSTERDOWN /
/// MASTERDOWN / LOADING and "no master for this slot" (wait within the hold time). A command whose
/// connection died after it was sent is answered "outcome unknown", unless Redis flags it read-only.
/// </summary>
internal sealed partial class RouterDispatcher : IAsyncDisposable
{
    [ThreadStatic]
    private static List<MuxConnection>? t_resent;

    private readonly TopologyMonitor _monitor;
    private readonly RouterOptions _options;
    private readonly BackendConnector _connector;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, MuxConnection?[]> _pool = new(StringComparer.Ordinal);
    private readonly List<RouterRequest> _parked = [];

    // MOVED updates the route at once: until a newer snapshot arrives, the slot goes to the named node.
    private readonly SlotOverride[] _moved = new SlotOverride[Routing.HashSlot.SlotCount];

    // Each slot's master's connections for one snapshot version: the common case (a keyed command, no
    // redirect) skips the slot table, the pool's lock and its lookup by node id.
    private RouteTable? _routes;
    private readonly ITimer _holdTimer;
    private readonly CancellationTokenSource _stopping = new();

    public RouterDispatcher(TopologyMonitor monitor, RouterOptions options, BackendConnector connector, ILogger logger, TimeProvider time)
    {
        _monitor = monitor;
        _options = options;
        _connector = connector;
        _logger = logger;
        _time = time;
        _monitor.SnapshotPublished += OnSnapshot;
        _holdTimer = time.CreateTimer(_ => OnTick(), null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
    }

    public TopologyMonitor Monitor => _monitor;

    public TimeProvider Time => _time;

    /// <summary>Routes a command. Returns the connection it was written to (flush it after the batch), or null when it waits or was answered.</summary>
    public MuxConnection? Route(RouterRequest request)
    {
        var snapshot = _monitor.Current;
        var cacheable = false;
        if (request.TargetNodeId is null && request.Slot >= 0)
        {
            if (Volatile.Read(ref _routes) is { } routes && routes.Version == snapshot.Version
                && routes.Find(request.Slot) is { } cached)
            {
                var pooled = Volatile.Read(ref cached[(int)(request.SessionId % cached.Length)]);
                if (pooled is not null && !pooled.IsDead && pooled.TryEnqueue(request))
                {
                    return pooled;
                }
            }

            cacheable = true;
        }

        NodeState? master;
        if (request.TargetNodeId is { } target)
        {
            master = snapshot.NodeById(target);
            if (master is null || master.IsDown || (request.Slot < 0 && !master.IsMaster))
            {
                // The named node is gone or no longer a master: its group's current master takes its
                // place (a fan-out part stays per group), else the slot table decides.
                master = snapshot.GroupByNodeId(target)?.RoutableMaster
                    ?? (request.TargetGroupId is { } groupId ? snapshot.GroupById(groupId)?.RoutableMaster : null)
                    ?? (request.Slot >= 0 ? snapshot.GroupForSlot(request.Slot)?.RoutableMaster : null);
                if (master is not null || request.Slot >= 0)
                {
                    request.TargetNodeId = master?.Id;
                }
            }
        }
        else if (request.Slot >= 0 && Volatile.Read(ref _moved[request.Slot]) is { } moved && moved.Version == snapshot.Version)
        {
            master = snapshot.NodeById(moved.NodeId) ?? snapshot.GroupForSlot(request.Slot)?.RoutableMaster;
            cacheable = false;
        }
        else
        {
            master = request.Slot >= 0 ? snapshot.GroupForSlot(request.Slot)?.RoutableMaster : null;
        }

        // A keyless command with no chosen master: any master will do.
        master ??= request.Slot < 0 && request.TargetNodeId is null ? AnyMaster(snapshot, request.SessionId) : null;
        if (master is null)
        {
            ParkOrFail(request, null);
            return null;
        }

        var connection = GetConnection(master, request.SessionId, out var pool);
        if (!connection.TryEnqueue(request))
        {
            Remove(connection);
            connection = GetConnection(master, request.SessionId, out pool);
            if (!connection.TryEnqueue(request))
            {
                ParkOrFail(request, null);
                return null;
            }
        }

        if (cacheable)
        {
            Remember(snapshot, request.Slot, master, pool);
        }

        return connection;
    }

    private static NodeState? AnyMaster(TopologySnapshot snapshot, long sessionId)
    {
        var groups = snapshot.Groups;
        for (var i = 0; i < groups.Length; i++)
        {
            if (groups[(int)((sessionId + i) % groups.Length)].RoutableMaster is { } master)
            {
                return master;
            }
        }

        return null;
    }

    /// <summary>Every master that currently has a confirmed role (for fan-out commands).</summary>
    public IReadOnlyList<NodeState> Masters()
    {
        var masters = new List<NodeState>();
        foreach (var group in _monitor.Current.Groups)
        {
            if (group.RoutableMaster is { } master)
            {
                masters.Add(master);
            }
        }

        return masters;
    }

    private void Remember(TopologySnapshot snapshot, int slot, NodeState master, MuxConnection?[] pool)
    {
        var routes = Volatile.Read(ref _routes);
        if (routes is null || routes.Version != snapshot.Version)
        {
            var fresh = new RouteTable(snapshot.Version, snapshot.Groups.Length);
            routes = Interlocked.CompareExchange(ref _routes, fresh, routes) is var seen && ReferenceEquals(seen, routes) ? fresh : seen;
            if (routes is null || routes.Version != snapshot.Version)
            {
                return;
            }
        }

        var group = snapshot.GroupForSlot(slot);
        if (group is null || !ReferenceEquals(group.RoutableMaster, master))
        {
            return;
        }

        routes.Set(slot, snapshot.Groups.IndexOf(group), pool);
        if (Volatile.Read(ref _moved[slot]) is { } moved && moved.Version == snapshot.Version)
        {
            // A MOVED for this slot landed meanwhile: it wins until the next snapshot.
            routes.Forget(slot);
        }
    }

    private MuxConnection GetConnection(NodeState master, long sessionId, out MuxConnection?[] pool)
    {
        lock (_gate)
        {
            return GetConnectionLocked(master, sessionId, out pool);
        }
    }

    private MuxConnection GetConnectionLocked(NodeState master, long sessionId, out MuxConnection?[] pool, bool afterLoss = false)
    {
        if (!_pool.TryGetValue(master.Id, out var connections) || connections.Length != _options.ConnectionsPerMaster)
        {
            connections = new MuxConnection?[Math.Max(1, _options.ConnectionsPerMaster)];
            _pool[master.Id] = connections;
        }

        var index = (int)(sessionId % connections.Length);
        var connection = connections[index];
        if (connection is null || connection.IsDead || connection.Node.Connect != master.Connect)
        {
            connection = new MuxConnection(this, master, sessionId);
            Volatile.Write(ref connections[index], connection);
            _ = connection.ConnectAsync(_connector, _options, afterLoss ? ct => NodeUpInNextSnapshotAsync(master.Id, ct) : null, _stopping.Token);
        }

        pool = connections;
        return connection;
    }

    /// <summary>
    /// A node whose connection was just lost may be a process going away whose listening socket still
    /// accepts for a moment: reconnect only once a refresh (requested at the loss) still shows it up.
    /// </summary>
    private async Task<bool> NodeUpInNextSnapshotAsync(string nodeId, CancellationToken cancellationToken)
    {
        var snapshot = await _monitor.NextSnapshotAsync(cancellationToken);
        return snapshot.NodeById(nodeId) is { IsDown: false };
    }

    private void Remove(MuxConnection connection)
    {
        lock (_gate)
        {
            RemoveLocked(connection);
        }
    }

    private void RemoveLocked(MuxConnection connection)
    {
        if (_pool.TryGetValue(connection.Node.Id, out var connections))
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

    // ------------------------------------------------------------ replies

    /// <summary>A reply frame for <paramref name="request"/>, on the connection's reader. Must not block.</summary>
    public void OnReply(MuxConnection connection, RouterRequest request, in ReadOnlySequence<byte> frame)
    {
        if (frame.FirstSpan[0] != (byte)'-')
        {
            request.Sink.Complete(request, frame);
            return;
        }

        switch (ReplyErrors.Classify(frame))
        {
            case ErrorKind.Moved:
            case ErrorKind.Ask:
                if (request.Redirects < _options.MaxRedirects && TryRedirect(request, frame))
                {
                    return;
                }

                break;
            case ErrorKind.TryAgain:
                if (++request.TryAgains <= _options.MaxTryAgain)
                {
                    // A multi-key command during resharding: its keys are split for a moment.
                    var delay = _options.TryAgainDelay * Math.Min(request.TryAgains, 10);
                    _ = Task.Delay(delay, _time).ContinueWith(_ => Resend(request), TaskScheduler.Default);
                    return;
                }

                break;
            case ErrorKind.ClusterDown:
            case ErrorKind.MasterDown:
            case ErrorKind.Loading:
            case ErrorKind.ReadOnly:
                // Proven not to have run: wait for the topology to change, within the hold time.
                _monitor.RequestRefresh("router: backend answered " + Encoding.ASCII.GetString(frame.Slice(0, Math.Min(frame.Length, 24))).TrimEnd());
                if (Park(request, frame.ToArray()))
                {
                    return;
                }

                break;
        }

        request.Sink.Complete(request, frame);
    }

    private bool TryRedirect(RouterRequest request, in ReadOnlySequence<byte> frame)
    {
        if (frame.Length < 4 || !ReplyRewriter.TryParseRedirect(frame.Slice(1, frame.Length - 3), out var isAsk, out _, out var target))
        {
            return false;
        }

        var snapshot = _monitor.Current;
        var node = FindByAnnounced(snapshot, target);
        request.Redirects++;
        if (!isAsk)
        {
            _monitor.RequestRefresh("router: MOVED");
        }

        if (node is null)
        {
            // A node the gateway does not know yet (cluster grew): refresh and retry within the hold time.
            _monitor.RequestRefresh("router: redirect to an unknown node " + target);
            return Park(request, frame.ToArray());
        }

        request.TargetNodeId = node.Id;
        request.Asking = isAsk;
        if (!isAsk && request.Slot >= 0)
        {
            Volatile.Write(ref _moved[request.Slot], new SlotOverride(node.Id, snapshot.Version));
            Volatile.Read(ref _routes)?.Forget(request.Slot);
        }

        Resend(request);
        return true;
    }

    private static NodeState? FindByAnnounced(TopologySnapshot snapshot, NodeEndpoint endpoint)
    {
        foreach (var node in snapshot.Nodes)
        {
            if (node.Announced == endpoint)
            {
                return node;
            }
        }

        return null;
    }

    private void Resend(RouterRequest request)
    {
        var connection = Route(request);
        if (connection is not null)
        {
            (t_resent ??= []).Add(connection);
            FlushResends();
        }
    }

    /// <summary>Flushes connections written to by redirects on this thread.</summary>
    public static void FlushResends()
    {
        var resent = t_resent;
        if (resent is null || resent.Count == 0)
        {
            return;
        }

        foreach (var connection in resent)
        {
            connection.Flush();
        }

        resent.Clear();
    }

    // ------------------------------------------------------------ failures and holds

    /// <summary>
    /// The connection died: commands sent on it have an unknown outcome unless read-only; commands still
    /// waiting to be sent never left and go first, in their order, on the replacement connection to the
    /// same node. That happens under the pool's lock, which a client needs to find the replacement, so a
    /// client's later commands queue behind its earlier ones and its writes keep their order.
    /// </summary>
    public void OnConnectionLost(MuxConnection connection, string reason)
    {
        List<RouterRequest> inFlight;
        List<RouterRequest> unsent;
        MuxConnection? replacement = null;
        List<RouterRequest>? stranded = null;
        lock (_gate)
        {
            (inFlight, unsent) = connection.Retire();
            RemoveLocked(connection);
            if (unsent.Count > 0)
            {
                if (_stopping.IsCancellationRequested)
                {
                    stranded = unsent;
                }
                else
                {
                    var node = _monitor.Current.NodeById(connection.Node.Id) ?? connection.Node;
                    replacement = GetConnectionLocked(node, connection.PoolKey, out _, afterLoss: true);
                    foreach (var request in unsent)
                    {
                        if (!replacement.TryEnqueue(request))
                        {
                            (stranded ??= []).Add(request);
                        }
                    }
                }
            }
        }

        replacement?.Flush();
        _monitor.RequestRefresh($"router: connection to {connection.Node.Connect} lost");
        if (inFlight.Count > 0)
        {
            RouterLog.ConnectionLost(_logger, connection.Node.Connect.ToString(), inFlight.Count, reason);
        }

        var unknown = GatewayReplies.OutcomeUnknown(connection.Node.Connect.ToString());
        if (connection.Stalled && inFlight.Count > 0)
        {
            // The command the server never answered: sending it again would stall the next connection too.
            var head = inFlight[0];
            inFlight.RemoveAt(0);
            head.Sink.Complete(head, new ReadOnlySequence<byte>(GatewayReplies.NoReply(connection.Node.Connect.ToString(), _options.ReplyTimeout)));
        }

        foreach (var request in inFlight)
        {
            if (request.ReadOnly)
            {
                Resend(request);
            }
            else
            {
                request.Sink.Complete(request, new ReadOnlySequence<byte>(unknown));
            }
        }

        foreach (var request in stranded ?? [])
        {
            ParkOrFail(request, null);
        }
    }

    public void OnConnectFailed(MuxConnection connection, List<RouterRequest> queued, string reason)
    {
        Remove(connection);
        _monitor.RequestRefresh($"router: connect to {connection.Node.Connect} failed: {reason}");
        foreach (var request in queued)
        {
            if (request.Slot >= 0)
            {
                request.TargetNodeId = null;
            }

            ParkOrFail(request, null);
        }
    }

    /// <summary>Holds a command until the topology changes. False when its hold time is already over (the caller answers it).</summary>
    private bool Park(RouterRequest request, byte[]? error)
    {
        var now = _time.GetUtcNow();
        var first = request.HoldUntil is null;
        request.HoldUntil ??= now + _options.HoldTimeout;
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
            _parked.Add(request);
        }

        if (first)
        {
            // Only when a command starts waiting: re-holding after each snapshot must not drive refreshes.
            _monitor.RequestRefresh("router: a command waits for a master");
        }

        return true;
    }

    /// <summary>Holds a command, or answers it with its last error (or "no master") when its hold time is over.</summary>
    private void ParkOrFail(RouterRequest request, byte[]? error)
    {
        if (!Park(request, error))
        {
            request.Sink.Complete(request, new ReadOnlySequence<byte>(request.LastError ?? NoMaster(request.Slot, _options.HoldTimeout)));
        }
    }

    private void OnSnapshot(TopologySnapshot snapshot)
    {
        List<RouterRequest> waiting;
        lock (_gate)
        {
            if (_parked.Count == 0)
            {
                return;
            }

            waiting = [.. _parked];
            _parked.Clear();
        }

        // Off the monitor's loop: routing may connect.
        _ = Task.Run(() =>
        {
            var touched = new HashSet<MuxConnection>();
            foreach (var request in waiting)
            {
                if (request.Slot >= 0)
                {
                    // The new snapshot knows better than an old MOVED or ASK.
                    request.TargetNodeId = null;
                    request.Asking = false;
                }

                if (Route(request) is { } connection)
                {
                    touched.Add(connection);
                }
            }

            foreach (var connection in touched)
            {
                connection.Flush();
            }
        });
    }

    private void OnTick()
    {
        ExpireParked();
        AbortStalledConnections();
    }

    private void AbortStalledConnections()
    {
        List<MuxConnection>? stalled = null;
        lock (_gate)
        {
            foreach (var connections in _pool.Values)
            {
                foreach (var connection in connections)
                {
                    if (connection is not null && connection.IsStalled(_time, _options.ReplyTimeout))
                    {
                        (stalled ??= []).Add(connection);
                    }
                }
            }
        }

        foreach (var connection in stalled ?? [])
        {
            RouterLog.ConnectionStalled(_logger, connection.Node.Connect.ToString(), _options.ReplyTimeout.TotalMilliseconds);
            connection.AbortStalled();
        }
    }

    private void ExpireParked()
    {
        var now = _time.GetUtcNow();
        List<RouterRequest>? expired = null;
        lock (_gate)
        {
            for (var i = _parked.Count - 1; i >= 0; i--)
            {
                if (_parked[i].HoldUntil <= now)
                {
                    (expired ??= []).Add(_parked[i]);
                    _parked.RemoveAt(i);
                }
            }
        }

        if (expired is null)
        {
            return;
        }

        for (var i = expired.Count - 1; i >= 0; i--)
        {
            var request = expired[i];
            var reply = request.LastError ?? NoMaster(request.Slot, _options.HoldTimeout);
            request.Sink.Complete(request, new ReadOnlySequence<byte>(reply));
        }
    }

    private static byte[] NoMaster(int slot, TimeSpan hold) =>
        GatewayReplies.NoMaster(slot >= 0 ? string.Create(CultureInfo.InvariantCulture, $"slot {slot}") : "the chosen shard group", hold);

    public async ValueTask DisposeAsync()
    {
        _monitor.SnapshotPublished -= OnSnapshot;
        await _stopping.CancelAsync();
        await _holdTimer.DisposeAsync();
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

        _stopping.Dispose();
    }

    private sealed record SlotOverride(string NodeId, long Version);

    /// <summary>
    /// Slot → the connection pool of its group's master, for one snapshot version. Compact (two bytes
    /// per slot) so random keys stay in cache; filled as slots are first routed.
    /// </summary>
    private sealed class RouteTable(long version, int groups)
    {
        private readonly ushort[] _slotGroup = new ushort[Routing.HashSlot.SlotCount];
        private readonly MuxConnection?[]?[] _pools = new MuxConnection?[]?[groups];

        public long Version { get; } = version;

        public MuxConnection?[]? Find(int slot)
        {
            var entry = Volatile.Read(ref _slotGroup[slot]);
            return entry == 0 ? null : Volatile.Read(ref _pools[entry - 1]);
        }

        public void Set(int slot, int group, MuxConnection?[] pool)
        {
            if (group < 0 || group >= _pools.Length)
            {
                return;
            }

            Volatile.Write(ref _pools[group], pool);
            Volatile.Write(ref _slotGroup[slot], (ushort)(group + 1));
        }

        public void Forget(int slot) => Volatile.Write(ref _slotGroup[slot], (ushort)0);
    }
}
