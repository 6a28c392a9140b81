using System.Buffers;
using System.Globalization;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Backends.Shared;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Topology;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Routing.Dispatch;

/// <summary>
/// Sends routed commands to the master that owns their slot (<see cref="SlotRouter"/>) over shared connections
/// (<see cref="SharedConnectionPool"/>), and acts on what Redis answers instead of a result
/// (<see cref="ReplyPolicy"/>): a redirect goes to the named node, TRYAGAIN is retried after a backoff, and
/// CLUSTERDOWN/MASTERDOWN/LOADING/READONLY or "no master for this slot" wait for the topology
/// (<see cref="HeldCommands"/>) within the hold time. A command whose connection died after it was sent is
/// answered "outcome unknown", unless Redis flags it read-only.
/// </summary>
internal sealed partial class CommandDispatcher : ISharedConnectionOwner, IAsyncDisposable
{
    private readonly TopologyMonitor _monitor;
    private readonly DispatchOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Observability.FrontendStats? _stats;
    private readonly SlotRouter _router = new();
    private readonly SharedConnectionPool _pool;
    private readonly HeldCommands _held;
    private long _heldTotal;
    private long _redirects;
    private readonly ITimer _tick;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, long> _busySeenAt = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    // Each slot's master's connections for one snapshot version: the common case (a keyed command, no
    // redirect) skips the slot table, the pool's lock and its lookup by node id.
    private RouteTable? _routes;

    // The last snapshot version whose failed-over masters' connections were retired (see Reconcile).
    private readonly Lock _reconcileGate = new();
    private long _reconciledVersion = -1;

    public CommandDispatcher(
        TopologyMonitor monitor, DispatchOptions options, IBackendConnector connector, ILogger logger, TimeProvider time, Observability.FrontendStats? stats = null)
    {
        _monitor = monitor;
        _stats = stats;
        _options = options;
        _logger = logger;
        _time = time;
        _pool = new SharedConnectionPool(this, connector, new SharedPoolOptions(options.ConnectionsPerMaster, options.ConnectTimeout, options.User, options.Password), _stopping.Token);
        _held = new HeldCommands(time, options.HoldTimeout);
        _monitor.SnapshotPublished += OnSnapshot;
        _tick = time.CreateTimer(_ => OnTick(), null, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
    }

    public TopologyMonitor Monitor => _monitor;

    public TimeProvider Time => _time;

    /// <inheritdoc/>
    public Observability.GroupStats? GroupOf(string nodeId) =>
        _stats is not null && _monitor.Current.GroupByNodeId(nodeId) is { } group ? _stats.Group(group.Id) : null;

    /// <summary>Commands waiting for a master now.</summary>
    public int HeldCount => _held.Count;

    /// <summary>Commands held since start (each once, however many snapshots it waited through).</summary>
    public long HeldTotal => Interlocked.Read(ref _heldTotal);

    /// <summary>The shared connections to the masters by state now.</summary>
    public (int Connected, int Connecting) SharedConnections => _pool.CountStates();

    /// <summary>MOVED/ASK redirects followed since start.</summary>
    public long Redirects => Interlocked.Read(ref _redirects);

    /// <summary>
    /// Routes a command. Returns the connection it was written to (flush it at the end of the caller's batch), or
    /// null when it waits or was answered.
    /// </summary>
    public SharedConnection? Route(RoutedCommand request)
    {
        var snapshot = _monitor.Current;
        if (request.TargetNodeId is null && request.Slot >= 0 && request.Protocol == 2
            && Volatile.Read(ref _routes) is { } routes && routes.Version == snapshot.Version
            && routes.Find(request.Slot) is { } cached)
        {
            var pooled = Volatile.Read(ref cached[(int)(request.SessionId % cached.Length)]);
            if (pooled is not null && !pooled.IsDead && pooled.TryEnqueue(request))
            {
                return pooled;
            }
        }

        if (snapshot.Version > Volatile.Read(ref _reconciledVersion))
        {
            Reconcile(snapshot);
        }

        return RouteSlow(snapshot, request, remember: true);
    }

    private SharedConnection? RouteSlow(TopologySnapshot snapshot, RoutedCommand request, bool remember)
    {
        var master = _router.Choose(snapshot, request, out var cacheable);
        if (master is null)
        {
            HoldOrFail(request, null);
            return null;
        }

        var connection = _pool.Get(master.Id, master.Connect, request.SessionId, out var slots, request.Protocol);
        if (!connection.TryEnqueue(request))
        {
            _pool.Remove(connection);
            connection = _pool.Get(master.Id, master.Connect, request.SessionId, out slots, request.Protocol);
            if (!connection.TryEnqueue(request))
            {
                HoldOrFail(request, null);
                return null;
            }
        }

        if (cacheable && remember && request.Protocol == 2)
        {
            Remember(snapshot, request.Slot, master, slots);
        }

        return connection;
    }

    /// <summary>
    /// A master that failed and was replaced may never close its connections (a crash report being written, a
    /// stopped process, a network black hole): what waits on them would wait until TCP gives up. So once a snapshot
    /// shows a node down while its group has another master, its connections are retired: commands they had sent
    /// get "outcome unknown" (read-only ones are sent again), commands they still held unsent go to the new master,
    /// in order. No command is routed on a snapshot before this ran for it, and nothing it reroutes fills the route
    /// cache, so a client's later commands cannot pass its earlier ones.
    /// </summary>
    private void Reconcile(TopologySnapshot snapshot)
    {
        List<(SharedConnection Connection, List<SharedRequest> Sent, List<SharedRequest> Unsent)>? retired;
        lock (_reconcileGate)
        {
            if (snapshot.Version <= _reconciledVersion)
            {
                return;
            }

            retired = _pool.RetireWhere(nodeId => IsSuperseded(snapshot, nodeId));
            if (retired is not null)
            {
                var batch = new ReplyBatch();
                foreach (var (_, _, unsent) in retired)
                {
                    foreach (RoutedCommand request in unsent)
                    {
                        if (request.Slot >= 0)
                        {
                            request.TargetNodeId = null;
                        }

                        if (RouteSlow(snapshot, request, remember: false) is { } connection)
                        {
                            batch.DeferConnection(connection);
                        }
                    }
                }

                batch.End();
            }

            Volatile.Write(ref _reconciledVersion, snapshot.Version);
        }

        foreach (var (connection, sent, _) in retired ?? [])
        {
            LogConnectionSuperseded(connection.Connect.ToString(), sent.Count);
            connection.Abort();
            AnswerLost(connection, sent, 0);
        }
    }

    /// <summary>
    /// A node that is gone, or down while it serves nothing: a failed master whose replica was promoted is in no
    /// group any more (until it rejoins as a replica), or in a group with another master. A down master still in
    /// its group without a successor keeps its connections: its replies may yet come.
    /// </summary>
    private static bool IsSuperseded(TopologySnapshot snapshot, string nodeId)
    {
        var node = snapshot.NodeById(nodeId);
        if (node is null)
        {
            return true;
        }

        if (!node.IsDown)
        {
            return false;
        }

        var group = snapshot.GroupByNodeId(nodeId);
        return group is null || (group.RoutableMaster is { } master && master.Id != nodeId);
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

    private void Remember(TopologySnapshot snapshot, int slot, NodeState master, SharedConnection?[] slots)
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

        routes.Set(slot, snapshot.Groups.IndexOf(group), slots);
        if (_router.IsMoved(slot, snapshot.Version))
        {
            // A MOVED for this slot landed meanwhile: it wins until the next snapshot.
            routes.Forget(slot);
        }
    }

    // ------------------------------------------------------------ replies

    public void OnReply(SharedConnection connection, SharedRequest shared, in ReadOnlySequence<byte> frame, ReplyBatch batch)
    {
        var request = (RoutedCommand)shared;
        if (frame.FirstSpan[0] != (byte)'-')
        {
            if (request.WasHeld && connection.Group is { } group)
            {
                // A command held while its group had no master is answered: traffic resumed (the failover's last phase).
                _stats?.ReachedMaster(group.Id);
            }

            request.Sink.Complete(request, frame, batch);
            return;
        }

        if (request.ScriptLoad is not null && IsNoScript(frame))
        {
            // The master never saw the script (a promoted replica: Redis does not replicate its script cache).
            request.PrependScriptLoad();
            Resend(request, batch);
            return;
        }

        var decision = ReplyPolicy.Decide(frame, request, _options);
        switch (decision.Action)
        {
            case ReplyAction.Redirect when TryRedirect(request, decision, frame, batch):
                return;
            case ReplyAction.RetryLater:
                // A multi-key command during resharding: its keys are split for a moment.
                _ = Task.Delay(decision.Delay, _time).ContinueWith(_ => Resend(request, null), TaskScheduler.Default);
                return;
            case ReplyAction.Hold:
                // Proven not to have run: wait for the topology to change, within the hold time.
                _monitor.RequestRefresh("router: backend answered " + Encoding.ASCII.GetString(frame.Slice(0, Math.Min(frame.Length, 24))).TrimEnd());
                if (Hold(request, frame.ToArray()))
                {
                    return;
                }

                break;
        }

        request.Sink.Complete(request, frame, batch);
    }

    private static bool IsNoScript(in ReadOnlySequence<byte> frame)
    {
        Span<byte> head = stackalloc byte[9];
        if (frame.Length < head.Length)
        {
            return false;
        }

        frame.Slice(0, head.Length).CopyTo(head);
        return head.SequenceEqual("-NOSCRIPT"u8);
    }

    private bool TryRedirect(RoutedCommand request, ReplyDecision decision, in ReadOnlySequence<byte> frame, ReplyBatch batch)
    {
        var snapshot = _monitor.Current;
        var node = SlotRouter.FindByAnnounced(snapshot, decision.Target);
        request.Redirects++;
        Interlocked.Increment(ref _redirects);
        if (!decision.IsAsk)
        {
            _monitor.RequestRefresh("router: MOVED");
        }

        if (node is null)
        {
            // A node the gateway does not know yet (cluster grew): refresh and retry within the hold time.
            _monitor.RequestRefresh("router: redirect to an unknown node " + decision.Target);
            return Hold(request, frame.ToArray());
        }

        request.TargetNodeId = node.Id;
        request.Asking = decision.IsAsk;
        if (!decision.IsAsk && request.Slot >= 0)
        {
            _router.Moved(request.Slot, node.Id, snapshot.Version);
            Volatile.Read(ref _routes)?.Forget(request.Slot);
        }

        Resend(request, batch);
        return true;
    }

    /// <summary>Routes a command again; its connection is flushed with <paramref name="batch"/>, or now without one.</summary>
    private void Resend(RoutedCommand request, ReplyBatch? batch)
    {
        if (Route(request) is not { } connection)
        {
            return;
        }

        if (batch is not null)
        {
            batch.DeferConnection(connection);
        }
        else
        {
            connection.Flush();
        }
    }

    // ------------------------------------------------------------ failures and holds

    /// <summary>
    /// The connection died: commands sent on it have an unknown outcome unless read-only; commands still waiting to
    /// be sent never left and go first, in their order, on the replacement connection to the same node.
    /// </summary>
    public void OnConnectionLost(SharedConnection connection, string reason)
    {
        var node = _monitor.Current.NodeById(connection.NodeId);
        var (sent, stranded, replacement) = _pool.RetireAndReplace(
            connection, node?.Connect ?? connection.Connect, ct => NodeUpInNextSnapshotAsync(connection.NodeId, ct));
        replacement?.Flush();
        _monitor.RequestRefresh($"router: connection to {connection.Connect} lost");
        if (sent.Count > 0)
        {
            LogConnectionLost(connection.Connect.ToString(), sent.Count, reason);
        }

        var start = 0;
        if (connection.Stalled && sent.Count > 0)
        {
            // The command the server never answered: sending it again would stall the next connection too.
            var head = (RoutedCommand)sent[0];
            head.Sink.Complete(head, new ReadOnlySequence<byte>(GatewayReplies.NoReply(connection.Connect.ToString(), _options.ReplyTimeout)), null);
            start = 1;
        }

        AnswerLost(connection, sent, start);
        foreach (var request in stranded ?? [])
        {
            HoldOrFail((RoutedCommand)request, null);
        }
    }

    /// <summary>Commands sent on a connection that is gone: outcome unknown, unless read-only (sent again).</summary>
    private void AnswerLost(SharedConnection connection, List<SharedRequest> sent, int start)
    {
        var unknown = GatewayReplies.OutcomeUnknown(connection.Connect.ToString());
        for (var i = start; i < sent.Count; i++)
        {
            var request = (RoutedCommand)sent[i];
            if (request.ReadOnly)
            {
                Resend(request, null);
            }
            else
            {
                request.Sink.Complete(request, new ReadOnlySequence<byte>(unknown), null);
            }
        }
    }

    public void OnConnectFailed(SharedConnection connection, List<SharedRequest> queued, string reason)
    {
        _pool.Remove(connection);
        _monitor.RequestRefresh($"router: connect to {connection.Connect} failed: {reason}");
        foreach (RoutedCommand request in queued)
        {
            if (request.Slot >= 0)
            {
                request.TargetNodeId = null;
            }

            HoldOrFail(request, null);
        }
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

    /// <summary>Holds a command until the topology changes. False when its hold time is already over (the caller answers it).</summary>
    private bool Hold(RoutedCommand request, byte[]? error)
    {
        if (!_held.TryHold(request, error, out var first))
        {
            return false;
        }

        if (!request.WasHeld)
        {
            request.WasHeld = true;
            Interlocked.Increment(ref _heldTotal);
        }

        if (first)
        {
            // Only when a command starts waiting: re-holding after each snapshot must not drive refreshes.
            _monitor.RequestRefresh("router: a command waits for a master");
        }

        return true;
    }

    /// <summary>Holds a command, or answers it with its last error (or "no master") when its hold time is over.</summary>
    private void HoldOrFail(RoutedCommand request, byte[]? error)
    {
        if (!Hold(request, error))
        {
            request.Sink.Complete(request, new ReadOnlySequence<byte>(request.LastError ?? NoMaster(request.Slot)), null);
        }
    }

    private void OnSnapshot(TopologySnapshot snapshot)
    {
        if (_held.TakeAll() is not { } waiting)
        {
            // Nothing waits, but connections to a master that was replaced may hold commands: retire them now.
            _ = Task.Run(() => Reconcile(snapshot));
            return;
        }

        // Off the monitor's loop: routing may connect.
        _ = Task.Run(() =>
        {
            Reconcile(snapshot);
            var batch = new ReplyBatch();
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
                    batch.DeferConnection(connection);
                }
            }

            batch.End();
        });
    }

    private void OnTick()
    {
        foreach (var request in _held.TakeExpired() ?? [])
        {
            request.Sink.Complete(request, new ReadOnlySequence<byte>(request.LastError ?? NoMaster(request.Slot)), null);
        }

        // A node seen busy (a long script) within the reply timeout is still taken as busy: one refresh that found it
        // slow to answer (a loaded machine) must not make its silence look like a hang.
        var snapshot = _monitor.Current;
        var now = _time.GetTimestamp();
        foreach (var node in snapshot.Nodes)
        {
            if (node.IsBusy)
            {
                _busySeenAt[node.Id] = now;
            }
        }

        bool Busy(string nodeId) =>
            snapshot.NodeById(nodeId)?.IsBusy == true
            || (_busySeenAt.TryGetValue(nodeId, out var seen) && _time.GetElapsedTime(seen, now) < _options.ReplyTimeout);

        foreach (var connection in _pool.Stalled(_options.ReplyTimeout, Busy) ?? [])
        {
            LogConnectionStalled(connection.Connect.ToString(), _options.ReplyTimeout.TotalMilliseconds);
            connection.AbortStalled();
        }
    }

    private byte[] NoMaster(int slot) =>
        GatewayReplies.NoMaster(slot >= 0 ? string.Create(CultureInfo.InvariantCulture, $"slot {slot}") : "the chosen shard group", _options.HoldTimeout);

    public async ValueTask DisposeAsync()
    {
        _monitor.SnapshotPublished -= OnSnapshot;
        await _stopping.CancelAsync();
        await _tick.DisposeAsync();
        _pool.AbortAll();
        _stopping.Dispose();
    }

    /// <summary>
    /// Slot → the connections of its group's master, for one snapshot version. Compact (two bytes per slot) so random
    /// keys stay in cache; filled as slots are first routed.
    /// </summary>
    private sealed class RouteTable(long version, int groups)
    {
        private readonly ushort[] _slotGroup = new ushort[HashSlot.SlotCount];
        private readonly SharedConnection?[]?[] _slots = new SharedConnection?[]?[groups];

        public long Version { get; } = version;

        public SharedConnection?[]? Find(int slot)
        {
            var entry = Volatile.Read(ref _slotGroup[slot]);
            return entry == 0 ? null : Volatile.Read(ref _slots[entry - 1]);
        }

        public void Set(int slot, int group, SharedConnection?[] slots)
        {
            if (group < 0 || group >= _slots.Length)
            {
                return;
            }

            Volatile.Write(ref _slots[group], slots);
            Volatile.Write(ref _slotGroup[slot], (ushort)(group + 1));
        }

        public void Forget(int slot) => Volatile.Write(ref _slotGroup[slot], (ushort)0);
    }
}
