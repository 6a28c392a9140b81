using System.Net;
using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using static ClusterGate.Core.Transport.Uring.UringNative;

namespace ClusterGate.Core.Transport.Uring;

/// <summary>
/// Kestrel's listener abstraction on the io_uring engine: the socket is bound by .NET (same errors as the socket
/// transport), then every ring keeps a multishot accept armed on it. When the process runs out of descriptors
/// the accept is not re-armed at once (the connection waits in the backlog): it backs off, logs once per episode
/// and tells the descriptor budget, as <see cref="SocketListenerFactory"/> does.
/// </summary>
public sealed partial class UringListenerFactory : IConnectionListenerFactory
{
    private static readonly TimeSpan UnbindTimeout = TimeSpan.FromSeconds(2);

    private readonly UringEngine _engine;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly DescriptorBudget? _descriptors;
    private long _acceptFailures;

    public UringListenerFactory(UringEngine engine, ILoggerFactory loggerFactory, TimeProvider? timeProvider = null, DescriptorBudget? descriptors = null)
    {
        ArgumentNullException.ThrowIfNull(engine);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _engine = engine;
        _logger = loggerFactory.CreateLogger("ClusterGate.Transport");
        _time = timeProvider ?? TimeProvider.System;
        _descriptors = descriptors;
    }

    /// <summary>Accepts that failed for want of descriptors or kernel memory (each one waited a backoff).</summary>
    public long AcceptFailures => Interlocked.Read(ref _acceptFailures);

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var socket = ListenSocket.Bind(endpoint);
        return ValueTask.FromResult<IConnectionListener>(new Listener(this, socket));
    }


    /// <summary>Accepted connections wait here for the frontend's accept loop; the loop's continuation runs on the accepting ring.</summary>
    private sealed class Listener : IConnectionListener, IValueTaskSource<ConnectionContext?>
    {
        private readonly UringListenerFactory _factory;
        private readonly Socket _socket;
        private readonly Accepter[] _accepters;
        private readonly Lock _gate = new();
        private readonly Queue<UringConnection> _ready = new();
        private ManualResetValueTaskSourceCore<ConnectionContext?> _waiter;
        private bool _waiting;
        private bool _closed;
        private long _failuresInEpisode;

        public Listener(UringListenerFactory factory, Socket socket)
        {
            _factory = factory;
            _socket = socket;
            Fd = (int)socket.Handle;
            EndPoint = socket.LocalEndPoint!;
            _accepters = [.. factory._engine.Rings.Select(r => new Accepter(this, r))];
            foreach (var accepter in _accepters)
            {
                // Posted, never run inline: a Stop posted later then always runs after this Start.
                accepter.Ring.Post(static a => ((Accepter)a!).Start(), accepter);
            }
        }

        public EndPoint EndPoint { get; }

        /// <summary>Read once: the socket stays open until every ring's accept has ended.</summary>
        public int Fd { get; }

        public ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            lock (_gate)
            {
                if (_ready.TryDequeue(out var connection))
                {
                    return new ValueTask<ConnectionContext?>(connection);
                }

                if (_closed)
                {
                    return new ValueTask<ConnectionContext?>((ConnectionContext?)null);
                }

                _waiting = true;
                _waiter.Reset();
                return new ValueTask<ConnectionContext?>(this, _waiter.Version);
            }
        }

        public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            bool wake;
            lock (_gate)
            {
                if (_closed)
                {
                    return;
                }

                _closed = true;
                wake = _waiting;
                _waiting = false;
            }

            if (wake)
            {
                _waiter.SetResult(null);
            }

            foreach (var accepter in _accepters)
            {
                accepter.Ring.Post(static a => ((Accepter)a!).Stop(), accepter);
            }

            try
            {
                await Task.WhenAll(_accepters.Select(a => a.Stopped)).WaitAsync(UnbindTimeout, _factory._time, cancellationToken);
            }
            catch (TimeoutException)
            {
            }

            _socket.Dispose();
        }

        public async ValueTask DisposeAsync()
        {
            await UnbindAsync();
            List<UringConnection> left;
            lock (_gate)
            {
                left = [.. _ready];
                _ready.Clear();
            }

            foreach (var connection in left)
            {
                connection.Abort();
                await connection.DisposeAsync();
            }
        }

        ConnectionContext? IValueTaskSource<ConnectionContext?>.GetResult(short token) => _waiter.GetResult(token);

        ValueTaskSourceStatus IValueTaskSource<ConnectionContext?>.GetStatus(short token) => _waiter.GetStatus(token);

        void IValueTaskSource<ConnectionContext?>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _waiter.OnCompleted(continuation, state, token, flags);

        /// <summary>On the accepting ring's thread; a waiting accept loop goes on right here.</summary>
        private void OnAccepted(UringConnection connection)
        {
            if (_failuresInEpisode > 0)
            {
                ListenSocket.LogAcceptRecovered(_factory._logger, EndPoint, Interlocked.Exchange(ref _failuresInEpisode, 0));
            }

            bool wake;
            lock (_gate)
            {
                if (_closed)
                {
                    wake = false;
                }
                else if (_waiting)
                {
                    _waiting = false;
                    wake = true;
                }
                else
                {
                    _ready.Enqueue(connection);
                    return;
                }
            }

            if (wake)
            {
                _waiter.SetResult(connection);
            }
            else
            {
                connection.Abort();
                _ = connection.DisposeAsync().AsTask();
            }
        }

        private bool IsClosed
        {
            get
            {
                lock (_gate)
                {
                    return _closed;
                }
            }
        }

        /// <summary>The multishot accept of one ring on this listener.</summary>
        private sealed unsafe class Accepter(Listener listener, UringRing ring) : IUringOwner
        {
            private const byte ForAccept = 1;
            private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
            private int _slot = -1;
            private bool _armed;
            private bool _stopping;
            private TimeSpan _backoff = ListenSocket.FirstBackoff;

            public UringRing Ring { get; } = ring;

            public Task Stopped => _stopped.Task;

            public void Start()
            {
                if (_stopping || Ring.IsStopping)
                {
                    Finish();
                    return;
                }

                _slot = Ring.AddOwner(this, isConnection: false);
                Arm();
            }

            public void Stop()
            {
                _stopping = true;
                if (_armed && !Ring.IsStopping)
                {
                    Ring.Cancel(UringRing.Token(_slot, 0, ForAccept));
                }
                else
                {
                    Finish();
                }
            }

            public void OnCompletion(byte op, ushort generation, int result, uint flags)
            {
                var more = (flags & CqeFMore) != 0;
                if (!more)
                {
                    _armed = false;
                }

                if (result >= 0)
                {
                    if (_stopping || listener.IsClosed)
                    {
                        close(result);
                    }
                    else
                    {
                        _backoff = ListenSocket.FirstBackoff;
                        listener.OnAccepted(UringConnection.Accepted(Ring, result, listener._factory._engine.Pool, listener._factory._engine.NextGeneration()));
                    }
                }
                else if (result != -EConnAborted && !_stopping)
                {
                    // Out of descriptors or memory (the connection stays in the backlog), or an error that would come back
                    // at once: wait, do not spin. Only a connection reset while in the backlog is taken in stride.
                    OnFailed(-result);
                    return;
                }

                if (_stopping)
                {
                    if (!_armed)
                    {
                        Finish();
                    }

                    return;
                }

                if (!_armed)
                {
                    Arm();
                }
            }

            private void OnFailed(int errno)
            {
                var factory = listener._factory;
                Interlocked.Increment(ref factory._acceptFailures);
                if (errno is EMFile or ENFile or ENoBufs or ENoMem)
                {
                    factory._descriptors?.OnExhausted();
                }

                if (Interlocked.Increment(ref listener._failuresInEpisode) == 1)
                {
                    ListenSocket.LogAcceptFailed(factory._logger, listener.EndPoint, UringConnection.SocketError(errno).Message);
                }

                if (_armed)
                {
                    Ring.Cancel(UringRing.Token(_slot, 0, ForAccept));
                }

                var delay = _backoff;
                _backoff = TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, ListenSocket.LastBackoff.Ticks));
                _ = Task.Delay(delay, factory._time).ContinueWith(
                    static (_, a) => ((Accepter)a!).Ring.Post(static s => ((Accepter)s!).Rearm(), a),
                    this,
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }

            private void Rearm()
            {
                if (_stopping || Ring.IsStopping)
                {
                    if (!_armed)
                    {
                        Finish();
                    }
                }
                else if (!_armed)
                {
                    Arm();
                }
            }

            private void Arm()
            {
                var sqe = Ring.NextSqe();
                sqe->Opcode = OpAccept;
                sqe->Fd = listener.Fd;
                sqe->IoPrio = AcceptMultishot;
                sqe->OpFlags = (uint)(SockNonBlock | SockCloexec);
                sqe->UserData = UringRing.Token(_slot, 0, ForAccept);
                _armed = true;
            }

            private void Finish()
            {
                if (_slot >= 0)
                {
                    Ring.RemoveOwner(_slot, isConnection: false);
                    _slot = -1;
                }

                _stopped.TrySetResult();
            }
        }
    }
}
