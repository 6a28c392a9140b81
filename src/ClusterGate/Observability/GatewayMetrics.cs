using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using ClusterGate.Core.Frontends.Router;
using ClusterGate.Core.Frontends.ShardPorts;
using ClusterGate.Core.Observability;
using ClusterGate.Core.Topology;
using ClusterGate.Core.Transport;

namespace ClusterGate.Observability;

/// <summary>
/// The gateway's metrics, defined once with <see cref="System.Diagnostics.Metrics"/> (exported by OpenTelemetry: Prometheus
/// text at the admin port's <c>/metrics</c>, OTLP when an endpoint is set). What the relay counts anyway is read when a
/// collector asks (observable instruments), so measuring adds nothing to a command's path but a striped add; latency is
/// sampled (<see cref="CommandTimings"/>); topology changes and failover phases are recorded as they happen. Tags stay
/// few: frontend, group, kind, phase, state, direction.
/// </summary>
internal sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "ClusterGate";

    /// <summary>Failover phases from a few milliseconds to the hold time.</summary>
    private static readonly double[] PhaseBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];

    private static readonly KeyValuePair<string, object?> Shard = new("frontend", "shard");
    private static readonly KeyValuePair<string, object?> Router = new("frontend", "router");

    private readonly Meter _meter = new(MeterName);
    private readonly TopologyMonitor _monitor;
    private readonly Counter<long> _failovers;
    private readonly Counter<long> _topologyEvents;
    private readonly Histogram<double> _failoverPhases;
    private readonly Lock _gate = new();

    // Per group: when its master was lost (crash noticed), and when a new one was confirmed (promotion seen), until
    // traffic reaches it. Stopwatch timestamps.
    private readonly Dictionary<int, long> _lostAt = [];
    private readonly Dictionary<int, long> _promotedAt = [];
    private readonly List<FrontendStats> _observed = [];

    // The last failovers with their phases, newest last: per group the one whose master is lost (no successor yet) and
    // the one promoted whose traffic has not resumed yet.
    private readonly List<FailoverRecord> _failoverLog = [];
    private readonly Dictionary<int, FailoverRecord> _open = [];
    private readonly Dictionary<int, FailoverRecord> _resuming = [];

    public GatewayMetrics(TopologyMonitor monitor)
    {
        _monitor = monitor;
        Timings = new CommandTimings(_meter);
        _failovers = _meter.CreateCounter<long>("clustergate.failovers", "{failover}", "A group's confirmed master became another node (a failover the gateway followed).");
        _topologyEvents = _meter.CreateCounter<long>("clustergate.topology.events", "{event}", "Topology changes seen, by kind.");
        _failoverPhases = _meter.CreateHistogram(
            "clustergate.failover.phase.duration",
            "s",
            "Failover phases by group: promotion (master lost until a new one confirmed), resumed (confirmed until the first waiting connection reached it).",
            tags: null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = PhaseBuckets });
        _meter.CreateObservableGauge("clustergate.groups", () => monitor.Current.Groups.Length, "{group}", "Shard groups (master-replica sets) in the topology.");
        _meter.CreateObservableGauge(
            "clustergate.groups.without_master",
            () => monitor.Current.Groups.Count(g => !g.MasterConfirmed),
            "{group}",
            "Groups with no confirmed master now (their commands wait, up to the hold time).");
        _meter.CreateObservableCounter("clustergate.topology.refreshes", () => monitor.Refreshes, "{refresh}", "Topology refreshes (every node asked) since start.");
        monitor.EventRaised += OnTopologyEvent;
    }

    /// <summary>Where the frontends record sampled command latency.</summary>
    public CommandTimings Timings { get; }

    /// <summary>How many failovers <see cref="RecentFailovers"/> keeps.</summary>
    public const int FailoversKept = 20;

    /// <summary>The last failovers seen (at most <see cref="FailoversKept"/>), oldest first, copied.</summary>
    public IReadOnlyList<FailoverRecord> RecentFailovers
    {
        get
        {
            lock (_gate)
            {
                return [.. _failoverLog.Select(f => f with { })];
            }
        }
    }

    /// <summary>The frontends' counts, once they exist (the frontends take <see cref="Timings"/> when they are made).</summary>
    public void Observe(ShardPortManager shards, Func<RouterFrontend?> router, DescriptorBudget descriptors)
    {
        Watch(shards.Stats);
        _meter.CreateObservableUpDownCounter(
            "clustergate.clients",
            () => Frontends(shards.Clients, router()?.ActiveSessions),
            "{client}",
            "Client connections open now, by frontend.");
        _meter.CreateObservableCounter(
            "clustergate.clients.refused",
            () => Frontends(shards.RefusedClients, router()?.RefusedClients),
            "{client}",
            "Clients refused since start (max clients, or too few file descriptors), by frontend.");
        _meter.CreateObservableCounter(
            "clustergate.commands",
            () => CommandsByClass(shards.Stats, router()?.Stats),
            "{command}",
            "Commands received from clients, by frontend and class (write, read: Redis's flags; other).");
        _meter.CreateObservableCounter(
            "clustergate.command.errors",
            () => Errors(shards.Stats, router()?.Stats),
            "{error}",
            "Error replies written to clients, by frontend and kind (moved, ask, clusterdown, tryagain, ... other).");
        _meter.CreateObservableCounter(
            "clustergate.group.commands",
            () => GroupCommands(shards.Stats, router()?.Stats),
            "{command}",
            "Commands sent to each group, by frontend: every command of a group's shard port; every command the router wrote to the group's master (one over several groups counts in each).");
        _meter.CreateObservableUpDownCounter(
            "clustergate.group.connections",
            () => GroupConnections(shards, router()),
            "{connection}",
            "Connections to each group's master now, by frontend: a shard port's client sessions (one each), the router's connections of clients' own (blocking commands, WATCH, subscriptions).");
        _meter.CreateObservableCounter("clustergate.client.io", () => ClientBytes(shards.Stats, router()?.Stats), "By", "Bytes read from (in) and written to (out) clients, by frontend and direction.");
        _meter.CreateObservableUpDownCounter(
            "clustergate.connections.waiting_for_master",
            () => Frontends(shards.Stats.WaitingForMaster, router()?.Stats.WaitingForMaster),
            "{connection}",
            "Client sessions (shard ports) and the router's own connections waiting now for their group's master; their commands are held.");
        _meter.CreateObservableCounter(
            "clustergate.connections.master_waits",
            () => Frontends(shards.Stats.MasterWaits.Value, router()?.Stats.MasterWaits.Value),
            "{wait}",
            "Times a connection had to wait for its group's master since start, by frontend.");
        _meter.CreateObservableCounter(
            "clustergate.router.commands.held",
            () => router()?.HeldCommands ?? 0,
            "{command}",
            "Router commands held since start because their group had no master (or the cluster answered CLUSTERDOWN, TRYAGAIN).");
        _meter.CreateObservableUpDownCounter("clustergate.router.commands.held_now", () => router()?.HeldNow ?? 0, "{command}", "Router commands held now.");
        _meter.CreateObservableCounter("clustergate.router.redirects", () => router()?.Redirects ?? 0, "{redirect}", "MOVED and ASK redirects the router followed since start.");
        _meter.CreateObservableUpDownCounter("clustergate.router.backend.connections", () => SharedConnections(router()), "{connection}", "The router's shared connections to the masters, by state.");
        _meter.CreateObservableUpDownCounter(
            "clustergate.router.own_connections",
            () => router()?.OwnConnections ?? 0,
            "{connection}",
            "Connections the router opened for clients of their own (blocking commands, WATCH, subscriptions, MONITOR).");
        _meter.CreateObservableCounter(
            "clustergate.descriptors.exhaustions",
            () => descriptors.Exhaustions,
            "{event}",
            "Times the process ran short of file descriptors (its spares were given back).");
    }

    /// <summary>Watches a frontend's waits for a master, to time the failover's last phase.</summary>
    public void Watch(FrontendStats stats)
    {
        lock (_gate)
        {
            if (!_observed.Contains(stats))
            {
                _observed.Add(stats);
                stats.MasterReached += OnMasterReached;
            }
        }
    }

    public void Dispose()
    {
        _monitor.EventRaised -= OnTopologyEvent;
        lock (_gate)
        {
            foreach (var stats in _observed)
            {
                stats.MasterReached -= OnMasterReached;
            }
        }

        _meter.Dispose();
    }

    private static IEnumerable<Measurement<long>> Frontends(long shard, long? router)
    {
        yield return new Measurement<long>(shard, Shard);
        if (router is { } value)
        {
            yield return new Measurement<long>(value, Router);
        }
    }

    private static FrontendStats[] Each(FrontendStats shard, FrontendStats? router) => router is null ? [shard] : [shard, router];

    private static IEnumerable<Measurement<long>> ClientBytes(FrontendStats shard, FrontendStats? router)
    {
        foreach (var stats in Each(shard, router))
        {
            var frontend = new KeyValuePair<string, object?>("frontend", stats.Frontend);
            yield return new Measurement<long>(stats.BytesIn.Value, frontend, new KeyValuePair<string, object?>("direction", "in"));
            yield return new Measurement<long>(stats.BytesOut.Value, frontend, new KeyValuePair<string, object?>("direction", "out"));
        }
    }

    private static IEnumerable<Measurement<long>> Errors(FrontendStats shard, FrontendStats? router)
    {
        foreach (var stats in Each(shard, router))
        {
            foreach (var (kind, count) in stats.Errors)
            {
                yield return new Measurement<long>(count, new KeyValuePair<string, object?>("frontend", stats.Frontend), new KeyValuePair<string, object?>("kind", kind));
            }
        }
    }

    private static IEnumerable<Measurement<long>> GroupCommands(FrontendStats shard, FrontendStats? router)
    {
        foreach (var stats in Each(shard, router))
        {
            foreach (var group in stats.Groups)
            {
                yield return new Measurement<long>(group.CommandCount, new KeyValuePair<string, object?>("frontend", stats.Frontend), group.Tag);
            }
        }
    }

    private static IEnumerable<Measurement<long>> CommandsByClass(FrontendStats shard, FrontendStats? router)
    {
        foreach (var stats in Each(shard, router))
        {
            foreach (var (commandClass, count) in stats.CommandsByClass)
            {
                yield return new Measurement<long>(count, new KeyValuePair<string, object?>("frontend", stats.Frontend), new KeyValuePair<string, object?>("class", commandClass.Name()));
            }
        }
    }

    private static IEnumerable<Measurement<long>> GroupConnections(ShardPortManager shards, RouterFrontend? router)
    {
        foreach (var binding in shards.Bindings)
        {
            yield return new Measurement<long>(binding.ActiveSessions, Shard, GroupTag(binding.GroupId));
        }

        foreach (var (group, count) in router?.OwnConnectionsByGroup ?? [])
        {
            yield return new Measurement<long>(count, Router, GroupTag(group));
        }
    }

    private static KeyValuePair<string, object?> GroupTag(int group) => new("group", group.ToString(CultureInfo.InvariantCulture));

    private static IEnumerable<Measurement<long>> SharedConnections(RouterFrontend? router)
    {
        if (router is null)
        {
            yield break;
        }

        var (connected, connecting) = router.SharedConnections;
        yield return new Measurement<long>(connected, new KeyValuePair<string, object?>("state", "connected"));
        yield return new Measurement<long>(connecting, new KeyValuePair<string, object?>("state", "connecting"));
    }

    private void OnTopologyEvent(TopologyEvent e)
    {
        _topologyEvents.Add(1, new KeyValuePair<string, object?>("kind", e.Kind.ToString()));
        if (e.GroupId is not { } group)
        {
            return;
        }

        var now = Stopwatch.GetTimestamp();
        var tag = new KeyValuePair<string, object?>("group", group.ToString(CultureInfo.InvariantCulture));
        lock (_gate)
        {
            switch (e.Kind)
            {
                case TopologyEventKind.MasterLost:
                    _lostAt[group] = now;
                    _open[group] = Keep(new FailoverRecord(group, e.NodeId, e.Timestamp));
                    break;
                case TopologyEventKind.MasterChanged when e.PreviousNodeId is not null:
                    _failovers.Add(1, tag);
                    var record = _open.Remove(group, out var open) && open.OldMaster == e.PreviousNodeId
                        ? open
                        : Keep(new FailoverRecord(group, e.PreviousNodeId, LostAt: null)); // a manual failover: no master was lost
                    record.NewMaster = e.NodeId;
                    record.PromotedAt = e.Timestamp;
                    if (_lostAt.Remove(group, out var lostAt))
                    {
                        var promotion = Stopwatch.GetElapsedTime(lostAt, now);
                        record.Promotion = record.LostAt is null ? null : promotion;
                        _failoverPhases.Record(promotion.TotalSeconds, tag, new KeyValuePair<string, object?>("phase", "promotion"));
                    }

                    _promotedAt[group] = now;
                    _resuming[group] = record;
                    break;
            }
        }
    }

    private FailoverRecord Keep(FailoverRecord record)
    {
        _failoverLog.Add(record);
        if (_failoverLog.Count > FailoversKept)
        {
            _failoverLog.RemoveAt(0);
        }

        return record;
    }

    private void OnMasterReached(int group)
    {
        lock (_gate)
        {
            if (_promotedAt.Remove(group, out var promotedAt))
            {
                var resumed = Stopwatch.GetElapsedTime(promotedAt);
                if (_resuming.Remove(group, out var record))
                {
                    record.Resumed = resumed;
                }

                _failoverPhases.Record(
                    resumed.TotalSeconds,
                    new KeyValuePair<string, object?>("group", group.ToString(CultureInfo.InvariantCulture)),
                    new KeyValuePair<string, object?>("phase", "resumed"));
            }
        }
    }
}
