using System.Diagnostics.Metrics;
using ClusterGate.Core.Frontends.Router;
using ClusterGate.Core.Frontends.ShardPorts;
using ClusterGate.Core.Topology;
using ClusterGate.Core.Transport;

namespace ClusterGate.Observability;

/// <summary>
/// The gateway's metrics, defined once with <see cref="System.Diagnostics.Metrics"/> (exported by OpenTelemetry: Prometheus
/// text at the admin port's <c>/metrics</c>, OTLP when an endpoint is set). What the relay counts anyway is read when a
/// collector asks (observable instruments), so measuring adds nothing to a command's path; topology changes are counted
/// as they happen. Tags stay few: frontend, group, event kind.
/// </summary>
internal sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "ClusterGate";

    private readonly Meter _meter = new(MeterName);
    private readonly TopologyMonitor _monitor;
    private readonly Counter<long> _failovers;
    private readonly Counter<long> _topologyEvents;

    public GatewayMetrics(TopologyMonitor monitor, ShardPortManager shards, Func<RouterFrontend?> router, DescriptorBudget descriptors)
    {
        _monitor = monitor;
        _failovers = _meter.CreateCounter<long>("clustergate.failovers", "{failover}", "A group's confirmed master became another node (a failover the gateway followed).");
        _topologyEvents = _meter.CreateCounter<long>("clustergate.topology.events", "{event}", "Topology changes seen, by kind.");
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
        _meter.CreateObservableGauge("clustergate.groups", () => monitor.Current.Groups.Length, "{group}", "Shard groups (master-replica sets) in the topology.");
        _meter.CreateObservableGauge(
            "clustergate.groups.without_master",
            () => monitor.Current.Groups.Count(g => !g.MasterConfirmed),
            "{group}",
            "Groups with no confirmed master now (their commands wait, up to the hold time).");
        _meter.CreateObservableCounter(
            "clustergate.descriptors.exhaustions",
            () => descriptors.Exhaustions,
            "{event}",
            "Times the process ran short of file descriptors (its spares were given back).");
        monitor.EventRaised += OnTopologyEvent;
    }

    public void Dispose()
    {
        _monitor.EventRaised -= OnTopologyEvent;
        _meter.Dispose();
    }

    private static IEnumerable<Measurement<long>> Frontends(long shard, long? router)
    {
        yield return new Measurement<long>(shard, new KeyValuePair<string, object?>("frontend", "shard"));
        if (router is { } value)
        {
            yield return new Measurement<long>(value, new KeyValuePair<string, object?>("frontend", "router"));
        }
    }

    private void OnTopologyEvent(TopologyEvent e)
    {
        _topologyEvents.Add(1, new KeyValuePair<string, object?>("kind", e.Kind.ToString()));
        if (e.Kind == TopologyEventKind.MasterChanged && e.PreviousNodeId is not null)
        {
            _failovers.Add(1, new KeyValuePair<string, object?>("group", e.GroupId?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"));
        }
    }
}
