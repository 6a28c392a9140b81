namespace ClusterGate.Hostile.Target;

/// <summary>Samples the process under test every period while a probe runs and keeps the highest RSS and descriptor count.</summary>
internal sealed class PeakSampler : IAsyncDisposable
{
    private readonly ProcessWatch _watch;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _peakRssKb = -1;
    private int _peakFds = -1;
    private long _latestRssKb = -1;

    public PeakSampler(ProcessWatch watch, TimeSpan period)
    {
        _watch = watch;
        _loop = watch.Pid is null ? Task.CompletedTask : RunAsync(period);
    }

    public ProcessSample? Peak => Volatile.Read(ref _peakRssKb) < 0 ? null : new ProcessSample(Volatile.Read(ref _peakRssKb), Volatile.Read(ref _peakFds));

    /// <summary>The last RSS read, in KB (null before the first sample or without a pid).</summary>
    public long? LatestRssKb => Volatile.Read(ref _latestRssKb) is var kb and >= 0 ? kb : null;

    /// <summary>Takes one sample now (probes call it at the moments they care about, e.g. while connections are held).</summary>
    public ProcessSample? SampleNow()
    {
        var sample = _watch.Sample();
        if (sample is { } s)
        {
            Volatile.Write(ref _latestRssKb, s.RssKb);
            InterlockedMax(ref _peakRssKb, s.RssKb);
            InterlockedMax(ref _peakFds, s.Fds);
        }

        return sample;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }

    private async Task RunAsync(TimeSpan period)
    {
        using var timer = new PeriodicTimer(period);
        try
        {
            do
            {
                SampleNow();
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current && Interlocked.CompareExchange(ref target, value, current) is var seen && seen != current)
        {
            current = seen;
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current && Interlocked.CompareExchange(ref target, value, current) is var seen && seen != current)
        {
            current = seen;
        }
    }
}
