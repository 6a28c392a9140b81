using System.Collections.Concurrent;
using System.Net;
using System.Threading.Channels;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Topology;
using ClusterGate.Core.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.ShardPorts;

/// <summary>A shard port and what it serves right now.</summary>
public sealed record ShardPortBinding(int GroupId, int Port, int ActiveSessions);

/// <summary>
/// Binds one listener per shard group and follows the topology: groups that appear get a port while
/// running (Kestrel's socket transport bound directly, since Kestrel fixes its own endpoints at start),
/// retired groups are unbound, and sessions are told to move when their group's master changes.
/// </summary>
public sealed partial class ShardPortManager : IAsyncDisposable
{
    private static readonly TimeSpan BindFailureLogPeriod = TimeSpan.FromMinutes(1);

    private readonly TopologyMonitor _monitor;
    private readonly ShardPortOptions _options;
    private readonly ILogger _logger;
    private readonly GatewayTransport _transport;
    private readonly GatewayTransport? _ownTransport;
    private readonly DescriptorBudget? _ownDescriptors;
    private readonly IBackendConnector _connector;
    private readonly ClientAdmission _admission;
    private readonly TimeProvider _time;
    private readonly ShardPortContext _context;
    private readonly ConcurrentDictionary<int, int> _portByGroup = new();
    private readonly ConcurrentDictionary<int, Listener> _listeners = new();
    private readonly ConcurrentDictionary<int, (int Port, string Reason)> _bindFailures = new();
    private readonly Dictionary<int, long> _bindFailureLoggedAt = [];
    private readonly Channel<TopologySnapshot> _snapshots = Channel.CreateBounded<TopologySnapshot>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly IPAddress _bindAddress;
    private Task? _follow;
    private long _sessionIds;

    public ShardPortManager(
        TopologyMonitor monitor,
        ShardPortOptions options,
        ILoggerFactory loggerFactory,
        TimeProvider? timeProvider = null,
        GatewayTransport? transport = null,
        DescriptorBudget? descriptors = null,
        Observability.CommandTimings? timings = null)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _monitor = monitor;
        _options = options;
        _logger = loggerFactory.CreateLogger<ShardPortManager>();
        _bindAddress = IPAddress.Parse(options.BindAddress);
        _time = timeProvider ?? TimeProvider.System;
        descriptors ??= _ownDescriptors = new DescriptorBudget(time: _time);
        _transport = transport ?? (_ownTransport = GatewayTransport.Create(options.Transport, ioThreads: 1, loggerFactory, _time, descriptors));
        _connector = _transport.Connector;

        // A shard-port client brings its own backend connection: two descriptors each.
        _admission = new ClientAdmission(options.MaxClients, descriptorsPerClient: 2, descriptors);
        _context = new ShardPortContext(monitor, options, _connector, loggerFactory.CreateLogger("ClusterGate.ShardSession"), _time, PortOf, new Observability.FrontendStats("shard", timings));
    }

    public IReadOnlyList<ShardPortBinding> Bindings =>
        [.. _listeners.Values.OrderBy(l => l.Port).Select(l => new ShardPortBinding(l.GroupId, l.Port, l.Sessions.Count))];

    /// <summary>Clients on every shard port now.</summary>
    public int Clients => _admission.Clients;

    /// <summary>Clients refused since start (max clients or descriptors).</summary>
    public long RefusedClients => _admission.Refused;

    /// <summary>Commands received from clients on every shard port since start.</summary>
    public long Commands => _context.Stats.CommandCount;

    /// <summary>Bytes, waits for a master and latency of the shard ports' clients.</summary>
    public Observability.FrontendStats Stats => _context.Stats;

    /// <summary>The shard port of a group, once assigned.</summary>
    public int? PortOf(int groupId) => _portByGroup.TryGetValue(groupId, out var port) ? port : null;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        (_context.Commands, _) = await CommandCatalogLoader.LoadAsync(_monitor, _logger, cancellationToken);
        await ReconcileAsync(_monitor.Current, startup: true, cancellationToken);
        _monitor.SnapshotPublished += OnSnapshot;
        _follow = Task.Run(() => FollowAsync(_stopping.Token), CancellationToken.None);
    }

    /// <summary>Stops accepting, lets in-flight replies drain (bounded), then closes every session.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _monitor.SnapshotPublished -= OnSnapshot;
        await _stopping.CancelAsync();
        if (_follow is not null)
        {
            await _follow;
        }

        var listeners = _listeners.Values.ToList();
        foreach (var listener in listeners)
        {
            await listener.Sessions.StopAcceptingAsync();
        }

        await Task.WhenAll(listeners.Select(l => l.Sessions.DrainAsync(_options.DrainTimeout, cancellationToken)));
        foreach (var listener in listeners)
        {
            await listener.Sessions.DisposeAsync();
            LogListenerStopped(listener.GroupId, listener.Port);
        }

        _listeners.Clear();
    }

    private void OnSnapshot(TopologySnapshot snapshot) => _snapshots.Writer.TryWrite(snapshot);

    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var snapshot in _snapshots.Reader.ReadAllAsync(cancellationToken))
            {
                try
                {
                    await ReconcileAsync(snapshot, startup: false, cancellationToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    LogReconcileFailed(ex);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Groups whose shard port could not be bound (a group that appeared while running, its port taken).</summary>
    public IReadOnlyDictionary<int, (int Port, string Reason)> BindFailures => _bindFailures;

    /// <summary>
    /// Binds a port for every new group and retires the ports of groups gone. At start a port that cannot be bound
    /// fails the start (<see cref="ShardPortBindException"/>); later it is retried at every snapshot and logged once a minute.
    /// </summary>
    private async Task ReconcileAsync(TopologySnapshot snapshot, bool startup, CancellationToken cancellationToken)
    {
        var failures = new List<(int GroupId, int Port, string Reason)>();
        foreach (var group in snapshot.Groups)
        {
            if (_listeners.TryGetValue(group.Id, out var listener))
            {
                var master = group.RoutableMaster;
                if (master is not null && master.Id != listener.LastMasterId)
                {
                    listener.LastMasterId = master.Id;
                    foreach (var session in listener.Sessions.Sessions)
                    {
                        if (session.BackendNodeId is { } node && node != master.Id)
                        {
                            session.RequestMove();
                        }
                    }
                }

                continue;
            }

            var port = AssignPort(group);
            try
            {
                var bound = await _transport.Listeners.BindAsync(new IPEndPoint(_bindAddress, port), cancellationToken);
                var groupId = group.Id;
                var sessions = new SessionListener<ShardSession>(
                    bound, _admission, connection => new ShardSession(connection, _context, groupId, Interlocked.Increment(ref _sessionIds)), _logger, _time);
                listener = new Listener(group.Id, port, sessions) { LastMasterId = group.RoutableMaster?.Id };
                _listeners[group.Id] = listener;
                sessions.Start();
                _bindFailures.TryRemove(group.Id, out _);
                LogListenerStarted(group.Id, port, group.Master?.Announced.ToString() ?? "-", string.Join(' ', group.Slots));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Retried on the next snapshot: the port may be free by then.
                var reason = BindFailure.Reason(ex);
                failures.Add((group.Id, port, reason));
                var now = _time.GetTimestamp();
                if (!startup && (!_bindFailureLoggedAt.TryGetValue(group.Id, out var logged) || _time.GetElapsedTime(logged, now) >= BindFailureLogPeriod))
                {
                    _bindFailureLoggedAt[group.Id] = now;
                    LogListenerFailed(group.Id, port, reason);
                }

                _bindFailures[group.Id] = (port, reason);
            }
        }

        if (startup && failures.Count > 0)
        {
            throw new ShardPortBindException(failures);
        }

        foreach (var listener in _listeners.Values)
        {
            if (snapshot.GroupById(listener.GroupId) is null)
            {
                _listeners.TryRemove(listener.GroupId, out _);
                await listener.Sessions.RetireAsync();

                LogListenerStopped(listener.GroupId, listener.Port);
            }
        }

        // A group gone before its port could be bound no longer needs one: /readyz must not wait for it.
        foreach (var groupId in _bindFailures.Keys)
        {
            if (snapshot.GroupById(groupId) is null)
            {
                _bindFailures.TryRemove(groupId, out _);
            }
        }
    }

    private int AssignPort(ShardGroup group)
    {
        if (_portByGroup.TryGetValue(group.Id, out var known))
        {
            return known;
        }

        var taken = new HashSet<int>(_portByGroup.Values);
        int port;
        var pin = _options.Pins.FirstOrDefault(p => group.Slots.Any(r => r.Contains(p.Slot)));
        if (pin is not null && !taken.Contains(pin.Port))
        {
            port = pin.Port;
        }
        else
        {
            var pinned = new HashSet<int>(_options.Pins.Select(p => p.Port));
            port = _options.BasePort + group.Id;
            while (taken.Contains(port) || pinned.Contains(port))
            {
                port++;
            }
        }

        _portByGroup[group.Id] = port;
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested)
        {
            await StopAsync(CancellationToken.None);
        }

        _context.ProtocolErrors.Dispose();
        _ownTransport?.Dispose();
        _ownDescriptors?.Dispose();
        _stopping.Dispose();
    }

    private sealed class Listener(int groupId, int port, SessionListener<ShardSession> sessions)
    {
        public int GroupId { get; } = groupId;

        public int Port { get; } = port;

        public SessionListener<ShardSession> Sessions { get; } = sessions;

        public string? LastMasterId { get; set; }
    }
}
