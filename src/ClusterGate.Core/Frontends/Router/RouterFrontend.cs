using System.Collections.Concurrent;
using System.Net;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Routing.Dispatch;
using ClusterGate.Core.Topology;
using ClusterGate.Core.Transport;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>
/// The router port: one address where clients with no cluster support use the whole cluster. Binds
/// Kestrel's socket transport, runs one <see cref="RouterSession"/> per client, and shares the
/// backend connections of one <see cref="RouterDispatcher"/>.
/// </summary>
public sealed class RouterFrontend : IAsyncDisposable
{
    private readonly TopologyMonitor _monitor;
    private readonly RouterOptions _options;
    private readonly ILogger _logger;
    private readonly GatewayTransport _transport;
    private readonly GatewayTransport? _ownTransport;
    private readonly DescriptorBudget? _ownDescriptors;
    private readonly ClientAdmission _admission;
    private readonly TimeProvider _time;
    private readonly IBackendConnector _connector;
    private readonly CommandDispatcher _dispatcher;
    private readonly RouterContext _context;
    private SessionListener<RouterSession>? _listener;
    private long _ids;

    public RouterFrontend(
        TopologyMonitor monitor,
        RouterOptions options,
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
        _logger = loggerFactory.CreateLogger<RouterFrontend>();
        var time = timeProvider ?? TimeProvider.System;
        _time = time;
        descriptors ??= _ownDescriptors = new DescriptorBudget(time: time);
        _transport = transport ?? (_ownTransport = GatewayTransport.Create(options.Transport, ioThreads: 1, loggerFactory, time, descriptors));
        _connector = _transport.Connector;

        // A router client holds its own socket only; the backend connections are shared.
        _admission = new ClientAdmission(options.MaxClients, descriptorsPerClient: 1, descriptors);
        var stats = new Observability.FrontendStats("router", timings);
        _dispatcher = new CommandDispatcher(monitor, options.ToDispatchOptions(), _connector, loggerFactory.CreateLogger("ClusterGate.Router"), time, stats);
        _context = new RouterContext(_dispatcher, options, loggerFactory.CreateLogger("ClusterGate.RouterSession"), time, _connector, descriptors, stats)
        {
            ClientList = () => string.Concat((_listener?.Sessions ?? []).OrderBy(s => s.Id).Select(s => RouterCommands.ClientInfoLine(s) + "\n")),
        };
    }

    /// <summary>The bound port (useful when <see cref="RouterOptions.Port"/> was chosen by the caller as free).</summary>
    public int Port { get; private set; }

    public int ActiveSessions => _listener?.Count ?? 0;

    /// <summary>Clients refused since start (max clients or descriptors).</summary>
    public long RefusedClients => _admission.Refused;

    /// <summary>Commands received from router clients since start.</summary>
    public long Commands => _context.Stats.CommandCount;

    /// <summary>Bytes, waits for a master and latency of router clients.</summary>
    public Observability.FrontendStats Stats => _context.Stats;

    /// <summary>Commands held since start because their group had no master (or the cluster said CLUSTERDOWN/TRYAGAIN).</summary>
    public long HeldCommands => _dispatcher.HeldTotal;

    /// <summary>Commands held now.</summary>
    public int HeldNow => _dispatcher.HeldCount;

    /// <summary>The router's shared connections to the masters by state now.</summary>
    public (int Connected, int Connecting) SharedConnections => _dispatcher.SharedConnections;

    /// <summary>MOVED/ASK redirects the router followed since start.</summary>
    public long Redirects => _dispatcher.Redirects;

    /// <summary>Connections of clients' own (blocking commands, WATCH, subscriptions, MONITOR) open now.</summary>
    public int OwnConnections => _context.OwnConnections;

    /// <summary>Connections of clients' own open now, by group.</summary>
    public IReadOnlyList<(int Group, int Count)> OwnConnectionsByGroup => _context.OwnConnectionsByGroup;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        (_context.Commands, _context.ServerVersion) = await CommandCatalogLoader.LoadAsync(_monitor, _logger, cancellationToken);
        var bound = await _transport.Listeners.BindAsync(new IPEndPoint(IPAddress.Parse(_options.BindAddress), _options.Port), cancellationToken);
        _listener = new SessionListener<RouterSession>(
            bound, _admission, connection => new RouterSession(connection, _context, Interlocked.Increment(ref _ids)), _logger, _time);
        Port = ((IPEndPoint)bound.EndPoint).Port;
        RouterLog.Listening(_logger, Port);
        _listener.Start();
    }

    /// <summary>Stops accepting, lets in-flight replies drain (bounded), then closes every session.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is not { } listener)
        {
            return;
        }

        await listener.StopAcceptingAsync();
        await listener.DrainAsync(_options.DrainTimeout, cancellationToken);
        await listener.DisposeAsync();
        _listener = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        await _dispatcher.DisposeAsync();
        await _context.Lingering.DisposeAsync();
        _context.ProtocolErrors.Dispose();
        _ownTransport?.Dispose();
        _ownDescriptors?.Dispose();
    }
}
