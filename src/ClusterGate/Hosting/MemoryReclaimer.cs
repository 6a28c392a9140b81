using System.Runtime;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Hosting;

/// <summary>
/// Gives memory back to the system after a burst. The runtime collects only when code allocates, so a gateway
/// that goes quiet after 10,000 clients left keeps their buffers mapped for good. When the process has been
/// quiet for a while (little allocated since the last look) and holds clearly more than it did when last
/// compacted, one aggressive full collection returns what is free. It never runs under load: it would cost a
/// full blocking collection per check there, for memory the load is about to use again.
/// </summary>
internal sealed partial class MemoryReclaimer : IAsyncDisposable
{
    /// <summary>How often the process is looked at.</summary>
    public static readonly TimeSpan CheckPeriod = TimeSpan.FromSeconds(5);

    /// <summary>Allocated between two looks below which the process counts as quiet (an idle gateway allocates little).</summary>
    private const long QuietAllocationBytes = 8L << 20;

    /// <summary>Growth of the working set above the last compacted size that is worth a full collection.</summary>
    private const long WorthReclaimingBytes = 16L << 20;

    private readonly ILogger _logger;
    private readonly ITimer _timer;
    private long _lastAllocated = GC.GetTotalAllocatedBytes();
    private long _floor = Environment.WorkingSet;
    private int _running;

    public MemoryReclaimer(ILogger logger, TimeProvider time)
    {
        _logger = logger;
        _timer = time.CreateTimer(_ => Check(), null, CheckPeriod, CheckPeriod);
    }

    private void Check()
    {
        if (Interlocked.Exchange(ref _running, 1) == 1)
        {
            return;
        }

        try
        {
            var allocated = GC.GetTotalAllocatedBytes();
            var quiet = allocated - _lastAllocated < QuietAllocationBytes;
            _lastAllocated = allocated;
            var before = Environment.WorkingSet;
            if (!quiet || before - _floor < WorthReclaimingBytes)
            {
                // Under load the floor follows the working set down, never up: growth is what gets reclaimed.
                _floor = Math.Min(_floor, before);
                return;
            }

            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            var after = Environment.WorkingSet;
            _floor = after;
            _lastAllocated = GC.GetTotalAllocatedBytes();
            LogReclaimed(before >> 20, after >> 20);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    public ValueTask DisposeAsync() => _timer.DisposeAsync();

    [LoggerMessage(EventId = HostLogEvents.MemoryReclaimed, Level = LogLevel.Debug, Message = "Quiet after a burst: memory returned, working set {BeforeMb} MB -> {AfterMb} MB")]
    private partial void LogReclaimed(long beforeMb, long afterMb);
}
