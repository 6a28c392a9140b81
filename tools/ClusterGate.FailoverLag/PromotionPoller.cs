using System.Diagnostics;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Topology;

namespace ClusterGate.FailoverLag;

/// <summary>
/// Reads <c>CLUSTER NODES</c> of a surviving master every few milliseconds and stamps the first reply in which a
/// healthy master other than the crashed one owns the crashed master's slot: the promotion, as a client would see it.
/// </summary>
internal sealed class PromotionPoller(NodeEndpoint survivor, string crashedId, int slot, TimeSpan interval)
{
    public int Polls { get; private set; }

    /// <summary>Runs until the promotion is seen; returns its <see cref="Stopwatch"/> timestamp and the new master.</summary>
    public async Task<(long At, NodeEndpoint Master)> RunAsync(CancellationToken ct)
    {
        ControlConnection? connection = null;
        try
        {
            while (true)
            {
                ct.ThrowIfCancellationRequested();
                try
                {
                    connection ??= await ControlConnection.ConnectAsync(survivor, RespLimits.Default, ct);
                    var reply = await connection.ExecuteAsync(["CLUSTER", "NODES"], ct);
                    var now = Stopwatch.GetTimestamp();
                    Polls++;
                    if (reply.Type != RespType.Error)
                    {
                        var owner = ClusterNodesParser.Parse(reply.AsString()).FirstOrDefault(n =>
                            n.Id != crashedId && n.IsMaster && !n.IsUnhealthy && n.Slots.Any(r => r.Contains(slot)));
                        if (owner is not null)
                        {
                            return (now, owner.Endpoint);
                        }
                    }
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidDataException)
                {
                    if (connection is not null)
                    {
                        await connection.DisposeAsync();
                    }

                    connection = null;
                }

                await Task.Delay(interval, ct);
            }
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
