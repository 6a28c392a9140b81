using System.Net;
using System.Net.Sockets;
using ClusterGate.Admin;
using ClusterGate.Configuration;
using ClusterGate.Core.Frontends;
using ClusterGate.Core.Frontends.Router;
using ClusterGate.Core.Frontends.ShardPorts;
using ClusterGate.Core.Topology;
using ClusterGate.Core.Transport;
using ClusterGate.Core.Transport.Uring;
using ClusterGate.Observability;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace ClusterGate.Hosting;

/// <summary>
/// Runs the gateway: topology monitor, shard ports, optional admin HTTP; on <c>stopping</c> it stops
/// accepting, drains in-flight replies (bounded), and tears down in reverse order.
/// </summary>
internal sealed partial class GatewayHost
{
    /// <summary>Added to the shard ports' own drain bound, for closing sessions after the drain.</summary>
    private static readonly TimeSpan StopSlack = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan AdminStopTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Exit code of a start that failed on its settings or on a port (as for invalid options).</summary>
    private const int StartupFailed = 2;

    private readonly GatewayOptions _options;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TextWriter _error;
    private readonly ILogger _logger;

    public GatewayHost(GatewayOptions options, ILoggerFactory loggerFactory, TextWriter error)
    {
        _options = options;
        _loggerFactory = loggerFactory;
        _error = error;
        _logger = loggerFactory.CreateLogger<GatewayHost>();
    }

    /// <summary>0 after a clean stop; 1 when no seed answered; 2 when a port could not be bound (one line per problem).</summary>
    public async Task<int> RunAsync(CancellationToken stopping)
    {
        var shardOptions = _options.ToShardPortOptions();
        LogStarting(string.Join(", ", _options.Seeds), _options.Bind, shardOptions.AnnounceHost, _options.RewriteRedirects);
        if (_options.AnnounceHost is null && GatewayOptions.IsWildcard(_options.Bind) && _options.RewriteRedirects)
        {
            LogWildcardAnnounce(_options.Bind);
        }

        // One budget and one transport for both frontends; a transport that cannot start fails before discovery.
        using var descriptors = new DescriptorBudget();
        _ = GatewayTransport.TryParse(_options.Transport, out var transportKind); // validated at start
        GatewayTransport transport;
        try
        {
            transport = GatewayTransport.Create(transportKind, _options.EffectiveIoThreads(Environment.ProcessorCount), _loggerFactory, descriptors: descriptors);
        }
        catch (UringUnavailableException ex)
        {
            return await FailAsync([$"transport io-uring (--transport): {ex.Message}"], StartupFailed);
        }

        using var ownedTransport = transport;

        await using var monitor = new TopologyMonitor(_options.ToMonitorOptions(), _loggerFactory.CreateLogger<TopologyMonitor>(), connector: transport.Connector);
        try
        {
            await monitor.StartAsync(stopping);
        }
        catch (TopologyDiscoveryException ex)
        {
            return await FailAsync(ex.Message);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            return 0;
        }

        using var metrics = new GatewayMetrics(monitor);
        var shards = new ShardPortManager(monitor, shardOptions, _loggerFactory, transport: transport, descriptors: descriptors, timings: metrics.Timings);
        AdminServer? admin = null;
        RouterFrontend? router = null;
        try
        {
            try
            {
                await shards.StartAsync(stopping);
            }
            catch (ShardPortBindException ex)
            {
                return await FailAsync(
                    ex.Failures.Select(f => $"shard port {f.Port} of group {f.GroupId} (--shard-base-port {_options.ShardBasePort}) on {_options.Bind}: {f.Reason}"),
                    StartupFailed);
            }

            LogShardTable(monitor.Current, shards.Bindings);
            var shardPorts = shards.Bindings.ToDictionary(b => b.Port, b => b.GroupId);
            if (_options.RouterPort > 0)
            {
                if (shardPorts.TryGetValue(_options.RouterPort, out var clash))
                {
                    return await FailAsync([$"router port {_options.RouterPort} (--router-port) is also the shard port of group {clash} (--shard-base-port {_options.ShardBasePort})"], StartupFailed);
                }

                router = new RouterFrontend(monitor, _options.ToRouterOptions(), _loggerFactory, transport: transport, descriptors: descriptors, timings: metrics.Timings);
                metrics.Watch(router.Stats);
                try
                {
                    await router.StartAsync(stopping);
                }
                catch (Exception ex) when (ex is SocketException or IOException or InvalidOperationException)
                {
                    return await FailAsync([$"router port {_options.RouterPort} (--router-port) on {_options.Bind}: {BindFailure.Reason(ex)}"], StartupFailed);
                }
            }

            // Counted again now that the monitor, the transport and every listener hold theirs: the budget was made before
            // them, and when descriptors run short it cannot count (listing /proc/self/fd needs one).
            descriptors.Recount();
            metrics.Observe(shards, () => router, descriptors);
            using var meterProvider = CreateMeterProvider();
            if (_options.AdminPort > 0)
            {
                if (shardPorts.TryGetValue(_options.AdminPort, out var clash))
                {
                    return await FailAsync([$"admin port {_options.AdminPort} (--admin-port) is also the shard port of group {clash} (--shard-base-port {_options.ShardBasePort})"], StartupFailed);
                }

                admin = AdminServer.Create(IPAddress.Parse(_options.Bind), _options.AdminPort, transport.Name, monitor, () => shards.Bindings, () => shards.BindFailures, () => metrics.RecentFailovers, meterProvider, _loggerFactory);
                try
                {
                    await admin.StartAsync(stopping);
                }
                catch (Exception ex) when (ex is SocketException or IOException or InvalidOperationException)
                {
                    return await FailAsync([$"admin port {_options.AdminPort} (--admin-port) on {_options.Bind}: {BindFailure.Reason(ex)}"], StartupFailed);
                }

                LogAdminListening($"http://{FormatHost(shardOptions.AnnounceHost)}:{_options.AdminPort}/", $"{_options.Bind}:{_options.AdminPort}");
            }

            // After a burst the runtime keeps what it mapped until code allocates again: give it back once quiet.
            await using var reclaimer = new MemoryReclaimer(_loggerFactory.CreateLogger<MemoryReclaimer>(), TimeProvider.System);
            try
            {
                await Task.Delay(Timeout.Infinite, stopping);
            }
            catch (OperationCanceledException)
            {
            }

            LogStopping(shardOptions.DrainTimeout.TotalSeconds);
            using (var drain = new CancellationTokenSource(shardOptions.DrainTimeout + StopSlack))
            {
                try
                {
                    if (router is not null)
                    {
                        await router.StopAsync(drain.Token);
                    }

                    await shards.StopAsync(drain.Token);
                }
                catch (OperationCanceledException)
                {
                    LogDrainIncomplete();
                }
            }

            return 0;
        }
        finally
        {
            if (admin is not null)
            {
                using var adminStop = new CancellationTokenSource(AdminStopTimeout);
                try
                {
                    await admin.StopAsync(adminStop.Token);
                }
                catch (OperationCanceledException)
                {
                }

                await admin.DisposeAsync();
            }

            if (router is not null)
            {
                await router.DisposeAsync();
            }

            await shards.DisposeAsync();
            LogStopped();
        }
    }

    private async Task<int> FailAsync(string message)
    {
        await _error.WriteLineAsync($"clustergate: {message}");
        return 1;
    }

    /// <summary>
    /// The metrics exporters: Prometheus text for the admin port's <c>/metrics</c>, and OTLP when an endpoint is set: over
    /// HTTP (protobuf) when the URL is the metrics path of OTLP/HTTP (<c>.../v1/metrics</c>, a collector's port 4318), else
    /// over gRPC (port 4317). The export interval is OpenTelemetry's own setting (<c>OTEL_METRIC_EXPORT_INTERVAL</c>, ms).
    /// </summary>
    private MeterProvider CreateMeterProvider()
    {
        var builder = Sdk.CreateMeterProviderBuilder().AddMeter(GatewayMetrics.MeterName).AddPrometheusExporter();
        if (_options.OtlpEndpoint is { Length: > 0 } endpoint)
        {
            var uri = new Uri(endpoint);
            builder.AddOtlpExporter(otlp =>
            {
                otlp.Endpoint = uri;
                otlp.Protocol = uri.AbsolutePath.TrimEnd('/').EndsWith("/v1/metrics", StringComparison.Ordinal)
                    ? OtlpExportProtocol.HttpProtobuf
                    : OtlpExportProtocol.Grpc;
            });
        }

        return builder.Build();
    }

    /// <summary>A start that cannot go on (a port taken, an address not on this host): one line per problem, no stack trace.</summary>
    private async Task<int> FailAsync(IEnumerable<string> problems, int exitCode)
    {
        foreach (var problem in problems)
        {
            await _error.WriteLineAsync($"clustergate: {problem}");
        }

        return exitCode;
    }

    private void LogShardTable(TopologySnapshot snapshot, IReadOnlyList<ShardPortBinding> bindings)
    {
        foreach (var binding in bindings.OrderBy(b => b.Port))
        {
            var group = snapshot.GroupById(binding.GroupId);
            LogShardPortBound(
                binding.Port,
                binding.GroupId,
                group?.Master?.Announced.ToString() ?? "-",
                group is null || group.Slots.IsDefaultOrEmpty ? "-" : string.Join(' ', group.Slots),
                group?.MasterConfirmed ?? false);
        }

        LogShardPortsListening(bindings.Count, _options.Bind);
    }

    private static string FormatHost(string host) => host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host;
}
