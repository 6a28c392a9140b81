using System.Net;
using System.Net.Sockets;
using ClusterGate.Admin;
using ClusterGate.Configuration;
using ClusterGate.Core.Frontends.Router;
using ClusterGate.Core.Frontends.ShardPorts;
using ClusterGate.Core.Topology;
using ClusterGate.Core.Transport;
using Microsoft.Extensions.Logging;

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

    /// <summary>0 after a clean stop; 1 when the cluster or a port could not be reached or bound.</summary>
    public async Task<int> RunAsync(CancellationToken stopping)
    {
        var shardOptions = _options.ToShardPortOptions();
        LogStarting(string.Join(", ", _options.Seeds), _options.Bind, shardOptions.AnnounceHost, _options.RewriteRedirects);
        if (_options.AnnounceHost is null && GatewayOptions.IsWildcard(_options.Bind) && _options.RewriteRedirects)
        {
            LogWildcardAnnounce(_options.Bind);
        }

        await using var monitor = new TopologyMonitor(_options.ToMonitorOptions(), _loggerFactory.CreateLogger<TopologyMonitor>());
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

        // One budget for both frontends: they draw on the same descriptor limit.
        using var descriptors = new DescriptorBudget();
        var shards = new ShardPortManager(monitor, shardOptions, _loggerFactory, descriptors: descriptors);
        AdminServer? admin = null;
        RouterFrontend? router = null;
        try
        {
            try
            {
                await shards.StartAsync(stopping);
            }
            catch (Exception ex) when (ex is SocketException or IOException)
            {
                return await FailAsync($"shard ports on {_options.Bind} from {_options.ShardBasePort}: {ex.Message}");
            }

            LogShardTable(monitor.Current, shards.Bindings);
            if (_options.RouterPort > 0)
            {
                router = new RouterFrontend(monitor, _options.ToRouterOptions(), _loggerFactory, descriptors: descriptors);
                try
                {
                    await router.StartAsync(stopping);
                }
                catch (Exception ex) when (ex is SocketException or IOException)
                {
                    return await FailAsync($"router port {_options.Bind}:{_options.RouterPort}: {ex.Message}");
                }
            }

            if (_options.AdminPort > 0)
            {
                admin = AdminServer.Create(IPAddress.Parse(_options.Bind), _options.AdminPort, monitor, () => shards.Bindings, _loggerFactory);
                try
                {
                    await admin.StartAsync(stopping);
                }
                catch (Exception ex) when (ex is SocketException or IOException)
                {
                    return await FailAsync($"admin port {_options.Bind}:{_options.AdminPort}: {ex.Message}");
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
