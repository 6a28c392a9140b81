using System.Diagnostics.Metrics;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Running;
using ClusterGate.Core.Observability;

BenchmarkSwitcher.FromAssembly(typeof(ClusterGate.MetricsCost.PerCommand).Assembly).Run(args);

namespace ClusterGate.MetricsCost
{
/// <summary>
/// What the metrics add to one relayed command, operation by operation, on one thread: the end-to-end benchmarks
/// (tools/bench/run-builds.sh) cannot resolve a few nanoseconds out of the microseconds a command costs on this machine,
/// so the additions are timed here and set against those microseconds. A listener like the exporter's is attached, so a
/// sampled command's histogram records cost what they cost in the gateway.
/// </summary>
[MemoryDiagnoser]
public class PerCommand
{
    private readonly Meter _meter = new("ClusterGate.MetricsCost");
    private readonly MeterListener _listener = new();
    private FrontendStats _stats = null!;
    private StripedCounter _commands = null!;
    private GroupStats _group = null!;
    private int _countdown = CommandTimings.SampleEvery;
    private long _readAt;

    [GlobalSetup]
    public void Setup()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, _meter))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, _, _, _) => { });
        _listener.Start();
        _stats = new FrontendStats("router", new CommandTimings(_meter));
        _group = _stats.Group(0);
        _commands = _stats.Commands(CommandClass.Read);
        _readAt = System.Diagnostics.Stopwatch.GetTimestamp();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _listener.Dispose();
        _meter.Dispose();
    }

    /// <summary>The command counted by class (router: at its reply slot; shard port: in its group).</summary>
    [Benchmark]
    public void CountCommand() => _stats.Commands(CommandClass.Read).Increment();

    /// <summary>The router's second count: the command written to its group's master.</summary>
    [Benchmark]
    public void CountGroupCommand() => _group.Commands.Increment();

    /// <summary>Bytes in or out: one add per read or flush (at -P 1 one each per command).</summary>
    [Benchmark]
    public void CountBytes() => _stats.BytesIn.Add(35);

    /// <summary>The sampling decision at each read: a countdown, a clock read on one read in 16.</summary>
    [Benchmark]
    public long SampleRead() => _stats.SampleRead(ref _countdown);

    /// <summary>A sampled command's two histogram records, tagged by frontend and group (one command in 16 pays it).</summary>
    [Benchmark]
    public void RecordSampled() => _stats.Record(_readAt, _readAt + 10, _readAt + 20, _group);

    /// <summary>The counter alone, for scale.</summary>
    [Benchmark(Baseline = true)]
    public void StripedIncrement() => _commands.Increment();
}
}
