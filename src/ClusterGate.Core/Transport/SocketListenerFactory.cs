using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Transport;

/// <summary>
/// Kestrel's socket connections (<see cref="SocketConnectionContextFactory"/>: pooled memory, pipes, inline
/// scheduling) under an accept loop of our own. Kestrel's listener retries a failed accept at once, so when the
/// process runs out of descriptors (<c>EMFILE</c>/<c>ENFILE</c>) it spins on a listening socket that stays
/// readable; this one backs off, logs once per episode and counts it.
/// </summary>
public sealed partial class SocketListenerFactory : IConnectionListenerFactory, IDisposable
{

    private readonly SocketConnectionContextFactory _contexts;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly DescriptorBudget? _descriptors;
    private long _acceptFailures;

    /// <param name="descriptors">Told when accepts fail for want of descriptors, so it gives its spares back.</param>
    public SocketListenerFactory(ILoggerFactory loggerFactory, TimeProvider? timeProvider = null, DescriptorBudget? descriptors = null)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _logger = loggerFactory.CreateLogger("ClusterGate.Transport");
        _time = timeProvider ?? TimeProvider.System;
        _descriptors = descriptors;
        _contexts = new SocketConnectionContextFactory(
            new SocketConnectionFactoryOptions
            {
                // Relay work is short and never blocks: run continuations on the I/O thread.
                UnsafePreferInlineScheduling = true,
                WaitForDataBeforeAllocatingBuffer = false,
            },
            _logger);
    }

    /// <summary>Accepts that failed for want of descriptors or kernel memory (each one waited a backoff).</summary>
    public long AcceptFailures => Interlocked.Read(ref _acceptFailures);

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var socket = ListenSocket.Bind(endpoint);
        return ValueTask.FromResult<IConnectionListener>(new Listener(this, socket));
    }

    public void Dispose() => _contexts.Dispose();


    private sealed class Listener(SocketListenerFactory factory, Socket socket) : IConnectionListener
    {
        private long _failuresInEpisode;

        public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            var backoff = ListenSocket.FirstBackoff;
            while (true)
            {
                Socket accepted;
                try
                {
                    accepted = await socket.AcceptAsync(cancellationToken);
                }
                catch (ObjectDisposedException)
                {
                    return null;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.OperationAborted)
                {
                    return null;
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
                {
                    // Out of descriptors or memory: the connection stays in the backlog; wait, do not spin.
                    Interlocked.Increment(ref factory._acceptFailures);
                    factory._descriptors?.OnExhausted();
                    if (_failuresInEpisode++ == 0)
                    {
                        ListenSocket.LogAcceptFailed(factory._logger, EndPoint, e.Message);
                    }

                    try
                    {
                        await Task.Delay(backoff, factory._time, cancellationToken);
                    }
                    catch (OperationCanceledException)
                    {
                        return null;
                    }

                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, ListenSocket.LastBackoff.Ticks));
                    continue;
                }
                catch (SocketException)
                {
                    // Reset while in the backlog: take the next one.
                    continue;
                }

                if (_failuresInEpisode > 0)
                {
                    ListenSocket.LogAcceptRecovered(factory._logger, EndPoint, _failuresInEpisode);
                    _failuresInEpisode = 0;
                }

                accepted.NoDelay = true;
                return factory._contexts.Create(accepted);
            }
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
