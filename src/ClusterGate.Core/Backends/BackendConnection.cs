using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Backends;

/// <summary>
/// A data-plane connection to one node, on Kestrel's socket connection (pooled memory, pipe
/// backpressure) exactly like the client side.
/// </summary>
public sealed class BackendConnection : IAsyncDisposable
{
    private readonly ConnectionContext _context;

    /// <summary>A connection over any transport: Kestrel's sockets, or in-memory pipes in tests.</summary>
    internal BackendConnection(ConnectionContext context, string nodeId, NodeEndpoint endpoint)
    {
        _context = context;
        NodeId = nodeId;
        Endpoint = endpoint;
    }

    public string NodeId { get; }

    public NodeEndpoint Endpoint { get; }

    public PipeReader Input => _context.Transport.Input;

    public PipeWriter Output => _context.Transport.Output;

    internal static async Task<BackendConnection> ConnectAsync(SocketConnectionContextFactory factory, string nodeId, NodeEndpoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, bounded.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new TimeoutException($"connect to {endpoint} timed out after {timeout.TotalMilliseconds:0} ms");
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return new BackendConnection(factory.Create(socket), nodeId, endpoint);
    }

    public void Abort() => _context.Abort(new ConnectionAbortedException("backend connection closed by the gateway"));

    public ValueTask DisposeAsync() => _context.DisposeAsync();
}

/// <summary>Opens data-plane connections to nodes.</summary>
public interface IBackendConnector
{
    Task<BackendConnection> ConnectAsync(string nodeId, NodeEndpoint endpoint, TimeSpan timeout, CancellationToken cancellationToken);
}

/// <summary>Creates backend connections with the scheduling settings measured best for a relay.</summary>
public sealed class BackendConnector : IBackendConnector, IDisposable
{
    private readonly SocketConnectionContextFactory _factory;

    public BackendConnector(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _factory = new SocketConnectionContextFactory(
            new SocketConnectionFactoryOptions
            {
                // Relay work is short and never blocks: run continuations on the I/O thread.
                UnsafePreferInlineScheduling = true,
                WaitForDataBeforeAllocatingBuffer = false,
            },
            loggerFactory.CreateLogger("ClusterGate.Backends"));
    }

    public Task<BackendConnection> ConnectAsync(string nodeId, NodeEndpoint endpoint, TimeSpan timeout, CancellationToken cancellationToken) =>
        BackendConnection.ConnectAsync(_factory, nodeId, endpoint, timeout, cancellationToken);

    public void Dispose() => _factory.Dispose();
}
