using System.Diagnostics;

namespace ClusterGate.Core.Observability;

/// <summary>
/// What one frontend (the shard ports, or the router) counts for the metrics: bumped on the relay's path with striped
/// counters, read when a collector asks. Latency goes to <see cref="CommandTimings"/> when the host gave one.
/// </summary>
public sealed class FrontendStats(string frontend, CommandTimings? timings = null)
{
    /// <summary>Error replies written to clients, by <see cref="Routing.ErrorKind"/>.</summary>
    private readonly long[] _errors = new long[Enum.GetValues<Routing.ErrorKind>().Length];
    private long _waitingForMaster;

    /// <summary>"shard" or "router": the tag the metrics carry.</summary>
    public string Frontend { get; } = frontend;

    /// <summary>Commands received from clients.</summary>
    public StripedCounter Commands { get; } = new();

    /// <summary>Bytes read from clients.</summary>
    public StripedCounter BytesIn { get; } = new();

    /// <summary>Bytes written to clients.</summary>
    public StripedCounter BytesOut { get; } = new();

    /// <summary>Connections (client sessions, or the router's own links) waiting now for their group to have a master.</summary>
    public long WaitingForMaster => Interlocked.Read(ref _waitingForMaster);

    /// <summary>Connections that waited for a master since start (each wait counted once).</summary>
    public StripedCounter MasterWaits { get; } = new();

    /// <summary>
    /// At each client read: when this read is to be timed (one in <see cref="CommandTimings.SampleEvery"/> per
    /// connection, counted down in <paramref name="countdown"/>), its arrival time; else 0, also when latency is not recorded.
    /// </summary>
    public long SampleRead(ref int countdown)
    {
        if (timings is null || --countdown > 0)
        {
            return 0;
        }

        countdown = CommandTimings.SampleEvery;
        return Stopwatch.GetTimestamp();
    }

    /// <summary>Error replies written to clients since start, by kind (<c>other</c> for every error that is not about routing).</summary>
    public IEnumerable<(string Kind, long Count)> Errors =>
        Enum.GetValues<Routing.ErrorKind>().Select(k => (k.ToString().ToLowerInvariant(), Interlocked.Read(ref _errors[(int)k])));

    /// <summary>An error reply (its first bytes decide the kind) is on its way to a client.</summary>
    internal void CountError(in System.Buffers.ReadOnlySequence<byte> frame) => Interlocked.Increment(ref _errors[(int)Routing.ReplyErrors.Classify(frame)]);

    /// <inheritdoc cref="CountError(in System.Buffers.ReadOnlySequence{byte})"/>
    internal void CountError(ReadOnlySpan<byte> reply) => Interlocked.Increment(ref _errors[(int)Routing.ReplyErrors.Classify(reply)]);

    public void BeginWaitForMaster()
    {
        Interlocked.Increment(ref _waitingForMaster);
        MasterWaits.Increment();
    }

    /// <summary>A wait ended: <paramref name="reached"/> when the connection reached the group's master (traffic resumed).</summary>
    public void EndWaitForMaster(int groupId, bool reached)
    {
        Interlocked.Decrement(ref _waitingForMaster);
        if (reached)
        {
            MasterReached?.Invoke(groupId);
        }
    }

    /// <summary>A connection that waited for a group's master reached it (the failover metrics' "traffic resumed").</summary>
    public event Action<int>? MasterReached;

    /// <summary>Records one sampled command whose reply is written now.</summary>
    public void Record(long readAt, long sentAt, long repliedAt) =>
        timings?.Record(Frontend, readAt, sentAt, repliedAt, Stopwatch.GetTimestamp());
}
