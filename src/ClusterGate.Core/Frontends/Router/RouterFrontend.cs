using System.Collections.Concurrent;
using System.Net;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Topology;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
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
    private readonly SocketTransportFactory _transport;
    private readonly BackendConnector _connector;
    private readonly RouterDispatcher _dispatcher;
    private readonly RouterContext _context;
    private readonly ConcurrentDictionary<long, RouterSession> _sessions = new();
    private IConnectionListener? _listener;
    private Task? _accept;
    private long _ids;

    public RouterFrontend(TopologyMonitor monitor, RouterOptions options, ILoggerFactory loggerFactory, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(monitor);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _monitor = monitor;
        _options = options;
        _logger = loggerFactory.CreateLogger<RouterFrontend>();
        _transport = ListenerTransport.Create(loggerFactory);
        _connector = new BackendConnector(loggerFactory);
        _dispatcher = new RouterDispatcher(monitor, options, _connector, loggerFactory.CreateLogger("ClusterGate.Router"), timeProvider ?? TimeProvider.System);
        _context = new RouterContext(_dispatcher, options, loggerFactory.CreateLogger("ClusterGate.RouterSession"))
        {
            ClientList = () => string.Concat(_sessions.Values.OrderBy(s => s.Id).Select(s => RouterCommands.ClientInfoLine(s) + "\n")),
        };
    }

    /// <summary>The bound port (useful when <see cref="RouterOptions.Port"/> was chosen by the caller as free).</summary>
    public int Port { get; private set; }

    public int ActiveSessions => _sessions.Count;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await LoadCommandsAsync(cancellationToken);
        _listener = await _transport.BindAsync(new IPEndPoint(IPAddress.Parse(_options.BindAddress), _options.Port), cancellationToken);
        Port = ((IPEndPoint)_listener.EndPoint).Port;
        RouterLog.Listening(_logger, Port);
        _accept = Task.Run(AcceptAsync, CancellationToken.None);
    }

    private async Task LoadCommandsAsync(CancellationToken cancellationToken)
    {
        foreach (var node in _monitor.Current.Nodes.Where(n => !n.IsDown && n.IsMaster))
        {
            try
            {
                var commands = await _monitor.Nodes.ExecuteAsync(node.Connect, ["COMMAND"], cancellationToken);
                if (commands.Type != RespType.Error)
                {
                    _context.Commands = CommandCatalog.Default.WithLive(commands);
                }

                var info = await _monitor.Nodes.ExecuteAsync(node.Connect, ["INFO", "server"], cancellationToken);
                var version = info.AsString().Split('\n').FirstOrDefault(l => l.StartsWith("redis_version:", StringComparison.Ordinal));
                _context.ServerVersion = version?["redis_version:".Length..].Trim();
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Try the next master; the generated table still knows every built-in command.
            }
        }
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            ConnectionContext? connection;
            try
            {
                connection = await _listener!.AcceptAsync();
            }
            catch (Exception ex) when (ex is ObjectDisposedException or OperationCanceledException or InvalidOperationException)
            {
                return;
            }

            if (connection is null)
            {
                return;
            }

            var session = new RouterSession(connection, _context, Interlocked.Increment(ref _ids));
            _sessions[session.Id] = session;
            _ = RunSessionAsync(session, connection);
        }
    }

    private async Task RunSessionAsync(RouterSession session, ConnectionContext connection)
    {
        try
        {
            await session.RunAsync();
        }
        catch (Exception ex)
        {
            RouterLog.SessionFailed(_logger, ex, session.Id);
        }
        finally
        {
            _sessions.TryRemove(session.Id, out _);
            await connection.DisposeAsync();
        }
    }

    /// <summary>Stops accepting, lets in-flight replies drain (bounded), then closes every session.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is not null)
        {
            await _listener.UnbindAsync(cancellationToken);
        }

        var sessions = _sessions.Values.ToList();
        foreach (var session in sessions)
        {
            session.BeginShutdown();
        }

        var deadline = DateTime.UtcNow + _options.DrainTimeout;
        while (!_sessions.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20, cancellationToken);
        }

        foreach (var session in _sessions.Values)
        {
            session.Abort();
        }

        if (_listener is not null)
        {
            await _listener.DisposeAsync();
            _listener = null;
        }

        if (_accept is not null)
        {
            await _accept;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None);
        await _dispatcher.DisposeAsync();
        _connector.Dispose();
    }
}
