using System.Globalization;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Frontends.Router;
using ClusterGate.Core.Topology;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;
using Microsoft.Extensions.Logging;

namespace ClusterGate.IntegrationTests.Router;

/// <summary>
/// The router frontend run in-process against a test cluster: a <see cref="TopologyMonitor"/> and a
/// <see cref="RouterFrontend"/> on 127.0.0.1 with a port chosen by the OS, logging into the test output.
/// </summary>
internal sealed class RouterGateway : IAsyncDisposable
{
    private readonly ILoggerFactory _loggerFactory;

    private RouterGateway(RedisCluster cluster, ILoggerFactory loggerFactory, TopologyMonitor monitor, RouterFrontend frontend, RouterOptions options)
    {
        Cluster = cluster;
        _loggerFactory = loggerFactory;
        Monitor = monitor;
        Frontend = frontend;
        Options = options;
    }

    public RedisCluster Cluster { get; }

    public TopologyMonitor Monitor { get; }

    public RouterFrontend Frontend { get; }

    public RouterOptions Options { get; }

    public int Port => Frontend.Port;

    public ILogger Log => _loggerFactory.CreateLogger("Test");

    public static async Task<RouterGateway> StartAsync(RedisCluster cluster, TestOutputLoggerProvider log, Action<RouterOptions>? configure, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var loggerFactory = LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Debug));
        var monitor = new TopologyMonitor(
            new TopologyMonitorOptions { Seeds = [.. cluster.Nodes.Select(n => new NodeEndpoint("127.0.0.1", n.Port))] },
            loggerFactory.CreateLogger<TopologyMonitor>());
        var testLog = loggerFactory.CreateLogger("Test");
        monitor.EventRaised += e => testLog.LogInformation("topology event: {Event}", e);
        RouterFrontend? frontend = null;
        try
        {
            await monitor.StartAsync(ct);
            await RedisCluster.WaitUntilAsync(
                _ => Task.FromResult(monitor.Current is { AllGroupsConfirmed: true, AllSlotsCovered: true, Groups.Length: 3 }),
                TimeSpan.FromSeconds(20),
                "the topology monitor to confirm 3 masters covering every slot",
                ct: ct);
            var options = new RouterOptions { BindAddress = "127.0.0.1", Port = 0, Transport = TestTransport.Kind };
            configure?.Invoke(options);
            frontend = new RouterFrontend(monitor, options, loggerFactory);
            await frontend.StartAsync(ct);
            testLog.LogInformation("router up on 127.0.0.1:{Port}", frontend.Port);
            return new RouterGateway(cluster, loggerFactory, monitor, frontend, options);
        }
        catch
        {
            if (frontend is not null)
            {
                await frontend.DisposeAsync();
            }

            await monitor.DisposeAsync();
            loggerFactory.Dispose();
            throw;
        }
    }

    public int GroupOfSlot(int slot) =>
        Monitor.Current.GroupForSlot(slot)?.Id ?? throw new InvalidOperationException($"No group owns slot {slot}.");

    /// <summary>Real client port of the group's current (confirmed) master.</summary>
    public int MasterPortOfGroup(int groupId) =>
        Monitor.Current.GroupById(groupId)?.RoutableMaster?.Connect.Port ?? throw new InvalidOperationException($"Group {groupId} has no confirmed master.");

    public int MasterPortOfSlot(int slot) => MasterPortOfGroup(GroupOfSlot(slot));

    /// <summary>Real client ports of every confirmed master.</summary>
    public IReadOnlyList<int> MasterPorts => [.. Monitor.Current.Groups.Select(g => g.RoutableMaster?.Connect.Port ?? -1).Where(p => p > 0).Order()];

    /// <summary>A hash tag whose keys live in <paramref name="groupId"/>.</summary>
    public string TagOfGroup(int groupId, string prefix = "t")
    {
        var snapshot = Monitor.Current;
        return HashSlots.TagWhere(slot => snapshot.GroupForSlot(slot)?.Id == groupId, prefix);
    }

    public Task WaitForConfirmedMasterAsync(int groupId, int masterPort, TimeSpan timeout, CancellationToken ct) =>
        RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(Monitor.Current.GroupById(groupId)?.RoutableMaster?.Connect.Port == masterPort),
            timeout,
            string.Create(CultureInfo.InvariantCulture, $"the gateway to confirm 127.0.0.1:{masterPort} as master of group {groupId}"),
            ct: ct);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Frontend.DisposeAsync();
        }
        finally
        {
            await Monitor.DisposeAsync();
            _loggerFactory.Dispose();
        }
    }
}
