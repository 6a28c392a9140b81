using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ClusterGate.Core.Observability;

/// <summary>
/// Command latency as the gateway sees it, two histograms in seconds tagged by frontend: end to end (the command read
/// from the client until its reply was written back) and gateway-added (the same less the time the backend had it: from
/// the command written to the backend connection until its reply was read from it). One command in
/// <see cref="SampleEvery"/> per client connection is timed: four clock reads and two records on a sampled command,
/// one decrement on the others, so timing does not show in the benchmarks while the distribution stays the traffic's.
/// </summary>
public sealed class CommandTimings
{
    /// <summary>One command timed in this many, per client connection.</summary>
    public const int SampleEvery = 16;

    /// <summary>10 µs to 10 s: a relayed command takes tens of microseconds, one held through a failover seconds.</summary>
    private static readonly double[] Buckets =
        [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Histogram<double> _endToEnd;
    private readonly Histogram<double> _gatewayAdded;

    public CommandTimings(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        var advice = new InstrumentAdvice<double> { HistogramBucketBoundaries = Buckets };
        _endToEnd = meter.CreateHistogram(
            "clustergate.command.duration",
            "s",
            "Commands from read off the client to reply written back (one in 16 per connection sampled), by frontend and, for a command that went to one group, group.",
            tags: null,
            advice);
        _gatewayAdded = meter.CreateHistogram(
            "clustergate.command.gateway_duration",
            "s",
            "Time a command spent in the gateway, end to end less the time its backend had it (sampled likewise), by frontend and group.",
            tags: null,
            advice);
    }

    /// <summary>
    /// Stopwatch timestamps of one command: read from the client, written to the backend, reply read, reply written.
    /// Gateway-added time is recorded only for a command that went to one backend as one request (<paramref name="sentAt"/>
    /// not 0): a command split over masters, or answered by the gateway itself, has end to end time only, and no group.
    /// </summary>
    public void Record(string frontend, GroupStats? group, long readAt, long sentAt, long repliedAt, long writtenAt)
    {
        var tags = new TagList { { "frontend", frontend } };
        if (group is not null)
        {
            tags.Add(group.Tag);
        }

        var endToEnd = Stopwatch.GetElapsedTime(readAt, writtenAt).TotalSeconds;
        _endToEnd.Record(endToEnd, tags);
        if (sentAt != 0 && repliedAt >= sentAt)
        {
            _gatewayAdded.Record(Math.Max(0, endToEnd - Stopwatch.GetElapsedTime(sentAt, repliedAt).TotalSeconds), tags);
        }
    }
}
