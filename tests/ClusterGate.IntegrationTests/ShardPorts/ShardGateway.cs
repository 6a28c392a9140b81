using System.Globalization;
using System.Net;
using System.Net.Sockets;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Frontends.ShardPorts;
using ClusterGate.Core.Topology;
using ClusterGate.IntegrationTests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace ClusterGate.IntegrationTests.ShardPorts;

/// <summary>
/// The shard-port frontend run in-process against a test cluster: a <see cref="TopologyMonitor"/> and a
/// <see cref="ShardPortManager"/> bound to 127.0.0.1 on a free range of ports, logging into the test output.
/// </summary>
internal sealed class ShardGateway : IAsyncDisposable
{
    public const int PortRange = 8;

    private readonly ILoggerFactory _loggerFactory;
    private int _stopped;

    private ShardGateway(RedisCluster cluster, ILoggerFactory loggerFactory, TopologyMonitor monitor, ShardPortManager manager, ShardPortOptions options)
    {
        Cluster = cluster;
        _loggerFactory = loggerFactory;
        Monitor = monitor;
        Manager = manager;
        Options = options;
    }

    public RedisCluster Cluster { get; }

    public TopologyMonitor Monitor { get; }

    public ShardPortManager Manager { get; }

    public ShardPortOptions Options { get; }

    public ILogger Log => _loggerFactory.CreateLogger("Test");

    /// <summary>The shard ports, one per group, ordered by group id.</summary>
    public IReadOnlyList<int> Ports => [.. Manager.Bindings.OrderBy(b => b.GroupId).Select(b => b.Port)];

    /// <summary>Every port a real node of the cluster listens on (client and bus ports).</summary>
    public IReadOnlySet<int> RealPorts => Cluster.Nodes.SelectMany(n => new[] { n.Port, n.BusPort }).ToHashSet();

    public static async Task<ShardGateway> StartAsync(RedisCluster cluster, TestOutputLoggerProvider log, Action<ShardPortOptions>? configure, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var loggerFactory = LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Debug));
        var monitor = new TopologyMonitor(
            new TopologyMonitorOptions { Seeds = [.. cluster.Nodes.Select(n => new NodeEndpoint("127.0.0.1", n.Port))] },
            loggerFactory.CreateLogger<TopologyMonitor>());
        var testLog = loggerFactory.CreateLogger("Test");
        monitor.EventRaised += e => testLog.LogInformation("topology event: {Event}", e);
        try
        {
            await monitor.StartAsync(ct);
            await RedisCluster.WaitUntilAsync(
                _ => Task.FromResult(monitor.Current is { AllGroupsConfirmed: true, AllSlotsCovered: true, Groups.Length: 3 }),
                TimeSpan.FromSeconds(20),
                "the topology monitor to confirm 3 masters covering every slot",
                ct: ct);

            // A free range can be taken between the check and the bind: try a few ranges.
            for (var attempt = 1; ; attempt++)
            {
                var options = new ShardPortOptions { BindAddress = "127.0.0.1", AnnounceHost = "127.0.0.1", BasePort = FreePortRange(PortRange), Transport = TestTransport.Kind };
                configure?.Invoke(options);
                var manager = new ShardPortManager(monitor, options, loggerFactory);
                await manager.StartAsync(ct);
                if (manager.Bindings.Count == monitor.Current.Groups.Length)
                {
                    testLog.LogInformation("gateway up: {Bindings}", string.Join(", ", manager.Bindings));
                    return new ShardGateway(cluster, loggerFactory, monitor, manager, options);
                }

                await manager.DisposeAsync();
                if (attempt == 5)
                {
                    throw new InvalidOperationException("The shard ports could not be bound on 5 free-looking port ranges.");
                }
            }
        }
        catch
        {
            await monitor.DisposeAsync();
            loggerFactory.Dispose();
            throw;
        }
    }

    public int PortOfGroup(int groupId) =>
        Manager.PortOf(groupId) ?? throw new InvalidOperationException($"Group {groupId} has no shard port.");

    public int GroupOfSlot(int slot) =>
        Monitor.Current.GroupForSlot(slot)?.Id ?? throw new InvalidOperationException($"No group owns slot {slot}.");

    public int PortOfSlot(int slot) => PortOfGroup(GroupOfSlot(slot));

    public int PortOfKey(string key) => PortOfSlot(HashSlots.Of(key));

    /// <summary>A hash tag whose keys live in <paramref name="groupId"/>.</summary>
    public string TagOfGroup(int groupId, string prefix = "t")
    {
        var snapshot = Monitor.Current;
        return HashSlots.TagWhere(slot => snapshot.GroupForSlot(slot)?.Id == groupId, prefix);
    }

    public int GroupOfPort(int port) =>
        Manager.Bindings.FirstOrDefault(b => b.Port == port)?.GroupId ?? throw new InvalidOperationException($"Port {port} is no shard port.");

    /// <summary>Real client port of the group's current (confirmed) master.</summary>
    public int MasterPortOfGroup(int groupId) =>
        Monitor.Current.GroupById(groupId)?.RoutableMaster?.Connect.Port ?? throw new InvalidOperationException($"Group {groupId} has no confirmed master.");

    /// <summary>Waits until the monitor confirms <paramref name="masterPort"/> as the group's master.</summary>
    public Task WaitForConfirmedMasterAsync(int groupId, int masterPort, TimeSpan timeout, CancellationToken ct) =>
        RedisCluster.WaitUntilAsync(
            _ => Task.FromResult(Monitor.Current.GroupById(groupId)?.RoutableMaster?.Connect.Port == masterPort),
            timeout,
            string.Create(CultureInfo.InvariantCulture, $"the gateway to confirm 127.0.0.1:{masterPort} as master of group {groupId}"),
            ct: ct);

    public async Task StopAsync(CancellationToken ct)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await Manager.StopAsync(ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync(CancellationToken.None);
            await Manager.DisposeAsync();
        }
        finally
        {
            await Monitor.DisposeAsync();
            _loggerFactory.Dispose();
        }
    }

    /// <summary>
    /// <paramref name="count"/> consecutive loopback ports that were free a moment ago, below the
    /// ephemeral range so the OS does not hand them to the cluster's nodes or to outgoing connections.
    /// </summary>
    public static int FreePortRange(int count)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var start = Random.Shared.Next(20000, 30000 - count);
            var listeners = new List<TcpListener>();
            try
            {
                for (var port = start; port < start + count; port++)
                {
                    var listener = new TcpListener(IPAddress.Loopback, port);
                    listener.Start();
                    listeners.Add(listener);
                }

                return start;
            }
            catch (SocketException)
            {
                // Taken: try another range.
            }
            finally
            {
                foreach (var listener in listeners)
                {
                    listener.Stop();
                    listener.Dispose();
                }
            }
        }

        throw new InvalidOperationException($"No {count} consecutive free loopback ports found in 20000-30000.");
    }
}
