using ClusterGate.Core.Backends;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClusterGate.Core.Topology;

/// <summary>
/// Discovers the cluster from seeds and follows it: periodic refresh, refresh on demand (coalesced),
/// fast polling while any group lacks a confirmed master. Publishes immutable snapshots (swapped
/// atomically) and timestamped events.
/// </summary>
public sealed partial class TopologyMonitor : IAsyncDisposable
{
    private readonly TopologyMonitorOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly NodeQueryClient _client;
    private readonly TopologyBuilder _builder;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _eventsLock = new();
    private readonly Queue<TopologyEvent> _recentEvents = new();
    private TopologySnapshot _current = TopologySnapshot.Empty;
    private long _refreshes;
    private TaskCompletionSource _trigger = NewSignal();
    private TaskCompletionSource<TopologySnapshot> _nextSnapshot = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _loop;

    /// <param name="connector">The transport control connections use (the gateway's); null: .NET sockets of their own.</param>
    public TopologyMonitor(TopologyMonitorOptions options, ILogger<TopologyMonitor>? logger = null, TimeProvider? timeProvider = null, IBackendConnector? connector = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _client = new NodeQueryClient(options, _timeProvider, connector);
        _builder = new TopologyBuilder(options.MapAddress);
    }

    /// <summary>The latest snapshot. Read it once into a local per decision.</summary>
    public TopologySnapshot Current => Volatile.Read(ref _current);

    /// <summary>Refreshes (every node asked for <c>CLUSTER NODES</c> and <c>INFO replication</c>) since start.</summary>
    public long Refreshes => Interlocked.Read(ref _refreshes);

    /// <summary>Raised on the monitor's loop after each published snapshot. Handlers must not block.</summary>
    public event Action<TopologySnapshot>? SnapshotPublished;

    /// <summary>Raised on the monitor's loop for every change. Handlers must not block.</summary>
    public event Action<TopologyEvent>? EventRaised;

    public NodeQueryClient Nodes => _client;

    /// <summary>The address the gateway connects to for an announced one (configured address map).</summary>
    public NodeEndpoint MapAddress(NodeEndpoint announced) => _options.MapAddress(announced);

    /// <summary>The last events (at most 1000), oldest first.</summary>
    public IReadOnlyList<TopologyEvent> RecentEvents
    {
        get
        {
            lock (_eventsLock)
            {
                return [.. _recentEvents];
            }
        }
    }

    /// <summary>Runs the first discovery and then follows the cluster in the background.</summary>
    /// <exception cref="TopologyDiscoveryException">No seed answered.</exception>
    public async Task<TopologySnapshot> StartAsync(CancellationToken cancellationToken)
    {
        var snapshot = await DiscoverAsync(cancellationToken);
        _loop = Task.Run(() => RunAsync(_stopping.Token), CancellationToken.None);
        return snapshot;
    }

    /// <summary>One refresh from seeds and known nodes. Throws when no node answered at all.</summary>
    public async Task<TopologySnapshot> DiscoverAsync(CancellationToken cancellationToken)
    {
        var (snapshot, views) = await RefreshOnceAsync(cancellationToken);
        if (!views.Any(v => v.Answered))
        {
            throw new TopologyDiscoveryException(views);
        }

        // Seeds told us about nodes we have not asked yet: ask them too, so every master's role is confirmed.
        var asked = views.Select(v => v.Queried).ToHashSet();
        if (snapshot.Nodes.Any(n => !asked.Contains(n.Connect)))
        {
            (snapshot, _) = await RefreshOnceAsync(cancellationToken);
        }

        LogDiscovered(snapshot.Groups.Length, snapshot.Nodes.Length, snapshot.AllGroupsConfirmed);
        return snapshot;
    }

    /// <summary>Asks for a refresh now. Concurrent requests coalesce into one refresh.</summary>
    public void RequestRefresh(string reason)
    {
        if (Volatile.Read(ref _trigger).TrySetResult())
        {
            LogRefreshRequested(reason);
        }
    }

    /// <summary>Completes with the next snapshot published after this call.</summary>
    public Task<TopologySnapshot> NextSnapshotAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _nextSnapshot).Task.WaitAsync(cancellationToken);

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var snapshot = Current;
            var delay = snapshot.AllGroupsConfirmed && snapshot.Groups.Length > 0 ? _options.RefreshInterval : _options.FastPollInterval;
            var trigger = Volatile.Read(ref _trigger).Task;
            try
            {
                using var wake = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var sleep = snapshot.Groups.Any(g => !g.MasterConfirmed && !g.Replicas.IsDefaultOrEmpty)
                    ? WatchForPromotionAsync(snapshot, delay, wake.Token)
                    : Task.Delay(delay, _timeProvider, wake.Token);
                await Task.WhenAny(sleep, trigger);
                await wake.CancelAsync();
                cancellationToken.ThrowIfCancellationRequested();
                await Task.Delay(_options.MinRefreshGap, _timeProvider, cancellationToken);

                // Swap the trigger before refreshing: requests that arrive during this refresh wake the next one.
                Volatile.Write(ref _trigger, NewSignal());
                await RefreshOnceAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The loop must outlive any bug in one refresh.
                LogRefreshFailed(ex);
            }
        }
    }

    /// <summary>
    /// Between fast polls, asks only the replicas of groups without a confirmed master for their role:
    /// a promoted replica knows it first, before its peers' CLUSTER NODES show it. Returns (so the
    /// caller refreshes) as soon as one says <c>role:master</c>, or when <paramref name="period"/> is over.
    /// </summary>
    private async Task WatchForPromotionAsync(TopologySnapshot snapshot, TimeSpan period, CancellationToken cancellationToken)
    {
        var candidates = snapshot.Groups.Where(g => !g.MasterConfirmed).SelectMany(g => g.Replicas).Where(r => !r.IsDown).Select(r => r.Connect).ToList();
        var end = _timeProvider.GetUtcNow() + period;
        try
        {
            while (_timeProvider.GetUtcNow() < end)
            {
                var step = _options.PromotionWatchInterval < end - _timeProvider.GetUtcNow() ? _options.PromotionWatchInterval : end - _timeProvider.GetUtcNow();
                await Task.Delay(step > TimeSpan.Zero ? step : TimeSpan.Zero, _timeProvider, cancellationToken);
                var roles = await Task.WhenAll(candidates.Select(c => AskRoleAsync(c, cancellationToken)));
                if (roles.Any(r => r == ReplicationRole.Master))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<ReplicationRole> AskRoleAsync(NodeEndpoint endpoint, CancellationToken cancellationToken)
    {
        try
        {
            var reply = await _client.ExecuteAsync(endpoint, ["INFO", "replication"], cancellationToken);
            return reply.Type == Resp.RespType.Error ? ReplicationRole.Unknown : InfoReplicationParser.Parse(reply.AsString()).Role;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return ReplicationRole.Unknown;
        }
    }

    private async Task<(TopologySnapshot Snapshot, NodeView[] Views)> RefreshOnceAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _refreshes);
        var previous = Current;
        var targets = PickTargets(previous);
        var views = await AskAllAsync(targets, cancellationToken);
        foreach (var view in views)
        {
            if (!view.Answered)
            {
                LogNodeQueryFailed(view.Queried.ToString(), view.Error ?? "unknown");
            }
        }

        if (!views.Any(v => v.Answered) && previous.Groups.Length == 0)
        {
            return (previous, views);
        }

        var now = _timeProvider.GetUtcNow();
        var next = views.Any(v => v.Answered) ? _builder.Build(views, previous, now) : Unconfirmed(previous, now);
        if (!views.Any(v => v.Answered))
        {
            LogNoNodeAnswered(views.Length);
        }

        foreach (var group in next.Groups)
        {
            if (group.Master is { Reachable: true, Replication.Role: ReplicationRole.Replica } master)
            {
                LogRoleDisagreement(group.Id, master.Announced.ToString(), master.Replication.MasterHost ?? "?", master.Replication.MasterPort);
            }
        }

        Publish(previous, next);
        return (next, views);
    }

    /// <summary>
    /// Asks every target at once and waits for them all, but not for long for the last ones: once some node gave a
    /// view, the others get <see cref="TopologyMonitorOptions.StragglerGrace"/> from the latest answer on. A
    /// master that hangs without closing its sockets (a crash report being written, a stopped process, a black
    /// hole) would otherwise hold every refresh for the whole command timeout, and with it the promotion the
    /// other nodes already show. A straggler counts as not answered; its query goes on in the background, and
    /// the next refresh does not queue behind it.
    /// </summary>
    private async Task<NodeView[]> AskAllAsync(List<NodeEndpoint> targets, CancellationToken cancellationToken)
    {
        var queries = targets.Select(t => _client.QueryAsync(t, cancellationToken)).ToArray();
        var pending = new List<Task<NodeView>>(queries);
        var anyAnswered = false;
        while (pending.Count > 0)
        {
            // Once some node gave a view, the rest get the grace from the last answer on; before that, all the time.
            var next = Task.WhenAny(pending);
            if (anyAnswered && await Task.WhenAny(next, Task.Delay(_options.StragglerGrace, _timeProvider, cancellationToken)) != next)
            {
                cancellationToken.ThrowIfCancellationRequested();
                break;
            }

            var done = await next;
            pending.Remove(done);
            anyAnswered |= done.IsCompletedSuccessfully && done.Result.Answered;
        }

        var views = new NodeView[queries.Length];
        for (var i = 0; i < queries.Length; i++)
        {
            views[i] = queries[i].IsCompletedSuccessfully
                ? queries[i].Result
                : new NodeView(targets[i], null, null, $"no answer within {_options.StragglerGrace.TotalMilliseconds:0} ms after the other nodes answered");
        }

        return views;
    }

    private List<NodeEndpoint> PickTargets(TopologySnapshot snapshot)
    {
        var targets = new List<NodeEndpoint>();
        var seen = new HashSet<NodeEndpoint>();
        void Add(NodeEndpoint e)
        {
            if (targets.Count < Math.Max(1, _options.MaxNodesPerRefresh) && seen.Add(e))
            {
                targets.Add(e);
            }
        }

        // Masters first (they decide routing), then the rest, then seeds that are not known nodes.
        foreach (var node in snapshot.Nodes.Where(n => n.IsMaster && !n.IsDown))
        {
            Add(node.Connect);
        }

        foreach (var node in snapshot.Nodes.Where(n => !n.IsMaster && !n.IsDown))
        {
            Add(node.Connect);
        }

        foreach (var node in snapshot.Nodes.Where(n => n.IsDown))
        {
            Add(node.Connect);
        }

        foreach (var seed in _options.Seeds)
        {
            Add(_options.MapAddress(seed));
        }

        return targets;
    }

    private static TopologySnapshot Unconfirmed(TopologySnapshot previous, DateTimeOffset now)
    {
        var nodes = previous.Nodes.Select(n => n with { IsDown = true, Reachable = false }).ToDictionary(n => n.Id, StringComparer.Ordinal);
        var groups = previous.Groups.Select(g => g with
        {
            MasterConfirmed = false,
            Master = g.Master is null ? null : nodes[g.Master.Id],
            Replicas = [.. g.Replicas.Select(r => nodes[r.Id])],
        });
        return new TopologySnapshot(previous.Version + 1, now, [.. groups], [.. nodes.Values], previous.Migrations);
    }

    private void Publish(TopologySnapshot previous, TopologySnapshot next)
    {
        Volatile.Write(ref _current, next);
        var events = TopologyDiff.Compare(previous, next);
        if (events.Count > 0)
        {
            lock (_eventsLock)
            {
                foreach (var e in events)
                {
                    _recentEvents.Enqueue(e);
                    while (_recentEvents.Count > 1000)
                    {
                        _recentEvents.Dequeue();
                    }
                }
            }
        }

        var waiters = Interlocked.Exchange(ref _nextSnapshot, new TaskCompletionSource<TopologySnapshot>(TaskCreationOptions.RunContinuationsAsynchronously));
        waiters.TrySetResult(next);
        foreach (var e in events)
        {
            LogTopologyEvent(e.Kind, e.GroupId ?? -1, e.NodeId ?? "-", e.Detail);
            EventRaised?.Invoke(e);
        }

        SnapshotPublished?.Invoke(next);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }

        await _client.DisposeAsync();
        _stopping.Dispose();
    }
}

/// <summary>No seed (and no known node) answered the first discovery.</summary>
public sealed class TopologyDiscoveryException : Exception
{
    public TopologyDiscoveryException(IReadOnlyList<NodeView> views)
        : base("no seed answered: " + string.Join(", ", views.Select(v => $"{v.Queried} ({v.Error ?? "no cluster view"})")))
    {
        Views = views;
    }

    public TopologyDiscoveryException()
        : this([])
    {
    }

    public TopologyDiscoveryException(string message)
        : base(message)
    {
        Views = [];
    }

    public TopologyDiscoveryException(string message, Exception innerException)
        : base(message, innerException)
    {
        Views = [];
    }

    public IReadOnlyList<NodeView> Views { get; }
}
