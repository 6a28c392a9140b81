using ClusterGate.Core.Transport;

namespace ClusterGate.Core.Frontends;

/// <summary>
/// Whether a frontend takes one more client: under its own <c>MaxClients</c> (Redis's <c>maxclients</c>) and
/// within the process's descriptor budget, counting what one client costs in descriptors (a shard-port client
/// brings its own backend connection, a router client shares them).
/// </summary>
internal sealed class ClientAdmission(int maxClients, int descriptorsPerClient, DescriptorBudget budget)
{
    private int _clients;
    private long _refused;

    public int MaxClients { get; } = maxClients;

    public int Clients => Volatile.Read(ref _clients);

    /// <summary>Clients turned away since start.</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>True when the client may stay; pair with <see cref="Release"/> when it leaves.</summary>
    public bool TryAdmit()
    {
        if (Interlocked.Increment(ref _clients) > MaxClients)
        {
            Interlocked.Decrement(ref _clients);
            Interlocked.Increment(ref _refused);
            return false;
        }

        if (!budget.TryTake(descriptorsPerClient))
        {
            Interlocked.Decrement(ref _clients);
            Interlocked.Increment(ref _refused);
            return false;
        }

        return true;
    }

    public void Release()
    {
        Interlocked.Decrement(ref _clients);
        budget.Return(descriptorsPerClient);
    }
}
