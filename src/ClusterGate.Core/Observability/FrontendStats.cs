using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace ClusterGate.Core.Observability;

/// <summary>
/// What one frontend (the shard ports, or the router) counts for the metrics: bumped on the relay's path with striped
/// counters, read when a collector asks. Latency goes to <see cref="CommandTimings"/> when the host gave one.
/// </summary>
public sealed class FrontendStats(string frontend, CommandTimings? timings = null)
{
    /// <summary>Error replies written to clients, by <see cref="Routing.ErrorKind"/>.</summary>
    private readonly long[] _errors = new long[Enum.GetValues<Routing.ErrorKind>().Length];
    private readonly ConcurrentDictionary<int, GroupStats> _groups = new();
    private long _waitingForMaster;

    /// <summary>"shard" or "router": the tag the metrics carry.</summary>
    public string Frontend { get; } = frontend;

    /// <summary>Commands received from clients, by <see cref="CommandClass"/> (where a frontend counts them by frontend: the router).</summary>
    private readonly StripedCounter[] _commands = [.. CommandClasses.All.Select(_ => new StripedCounter())];

    /// <summary>The counter of commands of <paramref name="commandClass"/> received from clients.</summary>
    public StripedCounter Commands(CommandClass commandClass) => _commands[(int)commandClass];

    /// <summary>
    /// Commands received from clients since start, by class: the frontend's own counts plus its groups' (a shard port
    /// counts each command once, in its group).
    /// </summary>
    public IEnumerable<(CommandClass Class, long Count)> CommandsByClass =>
        CommandClasses.All.Select(c => (c, _commands[(int)c].Value + _groups.Values.Sum(g => g.Received(c).Value)));

    /// <summary>Commands received from clients since start.</summary>
    public long CommandCount => CommandsByClass.Sum(c => c.Count);

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
            ReachedMaster(groupId);
        }
    }

    /// <summary>Traffic that waited for a group's master reached the new one: a held router command answered by it.</summary>
    public void ReachedMaster(int groupId) => MasterReached?.Invoke(groupId);

    /// <summary>A connection that waited for a group's master reached it (the failover metrics' "traffic resumed").</summary>
    public event Action<int>? MasterReached;

    /// <summary>
    /// What this frontend counts for one shard group, made on first use. A shard session or a backend connection takes
    /// it once, when it starts, and counts on it without a lookup.
    /// </summary>
    public GroupStats Group(int groupId) => _groups.GetOrAdd(groupId, static id => new GroupStats(id));

    /// <summary>The groups counted so far (a group that left the topology keeps its counts).</summary>
    public IEnumerable<GroupStats> Groups => _groups.Values;

    /// <summary>Records one sampled command whose reply is written now; by group too when it went to one group.</summary>
    public void Record(long readAt, long sentAt, long repliedAt, GroupStats? group = null) =>
        timings?.Record(Frontend, group, readAt, sentAt, repliedAt, Stopwatch.GetTimestamp());
}

/// <summary>What a frontend counts for one shard group: the commands it sent there (and, through <see cref="FrontendStats.Record"/>, their latency).</summary>
public sealed class GroupStats(int id)
{
    private readonly StripedCounter[] _received = [.. CommandClasses.All.Select(_ => new StripedCounter())];

    public int Id { get; } = id;

    /// <summary>Commands the router wrote to the group's master (a command over several groups counts in each).</summary>
    public StripedCounter Commands { get; } = new();

    /// <summary>The counter of commands of <paramref name="commandClass"/> received on the group's shard port.</summary>
    public StripedCounter Received(CommandClass commandClass) => _received[(int)commandClass];

    /// <summary>
    /// Commands sent to the group since start: on a shard port every command of the group's port; on the router every
    /// command written to the group's master.
    /// </summary>
    public long CommandCount => Commands.Value + _received.Sum(c => c.Value);

    /// <summary>The metrics' <c>group</c> tag, made once.</summary>
    public KeyValuePair<string, object?> Tag { get; } = new("group", id.ToString(CultureInfo.InvariantCulture));
}
