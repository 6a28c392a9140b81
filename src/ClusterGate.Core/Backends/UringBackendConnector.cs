using System.Net;
using System.Net.Sockets;
using ClusterGate.Core.Transport.Uring;

namespace ClusterGate.Core.Backends;

/// <summary>Data-plane connections to nodes on the io_uring engine, on the caller's ring when it is one.</summary>
public sealed class UringBackendConnector(UringEngine engine) : IBackendConnector
{
    public async Task<BackendConnection> ConnectAsync(string nodeId, NodeEndpoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        try
        {
            var address = IPAddress.TryParse(endpoint.Host, out var literal) ? literal : await ResolveAsync(endpoint.Host, bounded.Token);
            var connection = await UringConnection.ConnectAsync(engine.RingForCaller(), engine.Pool, engine.NextGeneration(), new IPEndPoint(address, endpoint.Port), bounded.Token);
            return new BackendConnection(connection, nodeId, endpoint);
        }
        catch (OperationCanceledException) when (bounded.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"connect to {endpoint} timed out after {timeout.TotalMilliseconds:0} ms");
        }
    }

    private static async Task<IPAddress> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? addresses.FirstOrDefault()
            ?? throw new SocketException((int)SocketError.HostNotFound);
    }
}
