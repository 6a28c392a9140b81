using System.Collections.Concurrent;
using System.Net;
using ClusterGate.Core.Observability;
using ClusterGate.Core.Resp;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends;

/// <summary>
/// One listening endpoint of a frontend and the sessions it runs: the accept loop, admission (a client over the
/// limit gets Redis's <c>-ERR max number of clients reached</c> and is closed), the session runner, and the
/// drain on stop. Both frontends use it; they differ only in the session they create.
/// </summary>
internal sealed partial class SessionListener<TSession> : IAsyncDisposable
    where TSession : class, IClientSession
{
    private static readonly TimeSpan RefusalLogPeriod = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan AbortGrace = TimeSpan.FromSeconds(2);

    private readonly IConnectionListener _listener;
    private readonly ClientAdmission _admission;
    private readonly Func<ConnectionContext, TSession> _create;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<long, Running> _sessions = new();
    private Task? _acceptLoop;
    private int _stopped;
    private long _lastRefusalLog = long.MinValue;

    public SessionListener(IConnectionListener listener, ClientAdmission admission, Func<ConnectionContext, TSession> create, ILogger logger, TimeProvider time)
    {
        _listener = listener;
        _admission = admission;
        _create = create;
        _logger = logger;
        _time = time;
    }

    public EndPoint EndPoint => _listener.EndPoint;

    public int Count => _sessions.Count;

    public IEnumerable<TSession> Sessions => _sessions.Values.Select(r => r.Session);

    public void Start() => _acceptLoop = Task.Run(AcceptAsync, CancellationToken.None);

    public async Task StopAcceptingAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            await _listener.UnbindAsync();
        }
    }

    /// <summary>Stops reading from every session, lets in-flight replies go out (bounded), then closes what is left.</summary>
    public async Task DrainAsync(TimeSpan drainTimeout, CancellationToken cancellationToken)
    {
        var running = _sessions.Values.ToList();
        foreach (var entry in running)
        {
            entry.Session.BeginShutdown();
        }

        var all = Task.WhenAll(running.Select(r => r.Task));
        try
        {
            await all.WaitAsync(drainTimeout, _time, cancellationToken);
            return;
        }
        catch (TimeoutException)
        {
        }

        foreach (var entry in running.Where(r => !r.Task.IsCompleted))
        {
            entry.Session.Abort();
        }

        try
        {
            await all.WaitAsync(AbortGrace, _time, CancellationToken.None);
        }
        catch (TimeoutException)
        {
        }
    }

    /// <summary>Stops accepting and lets sessions go on: a retired shard group's clients drain on their own.</summary>
    public async Task RetireAsync()
    {
        await StopAcceptingAsync();
        foreach (var entry in _sessions.Values)
        {
            entry.Session.BeginShutdown();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAcceptingAsync();
        await _listener.DisposeAsync();
        if (_acceptLoop is not null)
        {
            await _acceptLoop;
        }
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            ConnectionContext? connection;
            try
            {
                connection = await _listener.AcceptAsync();
            }
            catch (Exception ex) when (ex is ObjectDisposedException or OperationCanceledException or InvalidOperationException)
            {
                return;
            }

            if (connection is null)
            {
                return;
            }

            if (!_admission.TryAdmit())
            {
                _ = RefuseAsync(connection);
                continue;
            }

            TSession session;
            try
            {
                session = _create(connection);
            }
            catch
            {
                _admission.Release();
                await connection.DisposeAsync();
                throw;
            }

            var running = new Running(session);
            _sessions[session.Id] = running;
            running.Task = RunAsync(session, connection);
        }
    }

    private async Task RunAsync(TSession session, ConnectionContext connection)
    {
        try
        {
            await session.RunAsync();
        }
        catch (Exception ex)
        {
            LogSessionFailed(ex, session.Id, EndPoint);
        }
        finally
        {
            _sessions.TryRemove(session.Id, out _);
            await connection.DisposeAsync();
            _admission.Release();
        }
    }

    /// <summary>What Redis does past <c>maxclients</c>: one error line, then close.</summary>
    private async Task RefuseAsync(ConnectionContext connection)
    {
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastRefusalLog);
        if ((last == long.MinValue || _time.GetElapsedTime(last, now) >= RefusalLogPeriod)
            && Interlocked.CompareExchange(ref _lastRefusalLog, now, last) == last)
        {
            LogClientRefused(EndPoint, _admission.Clients, _admission.MaxClients, _admission.Refused);
        }

        try
        {
            await connection.Transport.Output.WriteAsync(GatewayReplies.MaxClientsReached);
            await connection.Transport.Output.CompleteAsync();
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or InvalidOperationException)
        {
        }
        finally
        {
            await connection.DisposeAsync();
        }
    }

    [LoggerMessage(EventId = LogEvents.ClientRefused, Level = LogLevel.Warning, Message = "Refused a client on {Endpoint}: max number of clients reached ({Clients} of at most {MaxClients}, or too few file descriptors left); {Refused} refused since start (logged at most every 10 s)")]
    private partial void LogClientRefused(EndPoint endpoint, int clients, int maxClients, long refused);

    [LoggerMessage(EventId = LogEvents.SessionFailed, Level = LogLevel.Error, Message = "Session {SessionId} on {Endpoint} failed")]
    private partial void LogSessionFailed(Exception exception, long sessionId, EndPoint endpoint);

    private sealed class Running(TSession session)
    {
        public TSession Session { get; } = session;

        public Task Task { get; set; } = Task.CompletedTask;
    }
}
