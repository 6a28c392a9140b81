using System.Diagnostics;

namespace ClusterGate.Hostile.Target;

/// <summary>
/// RSS of the process under test over seconds rather than around one moment: waiting until it is quiet, its idle
/// RSS, and how it falls after a burst. One reading a second; a reading that fails (the process is gone) ends the wait.
/// </summary>
internal sealed class RssTimeline(ProcessWatch process)
{
    private static readonly TimeSpan Second = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Consecutive one-second readings that must agree for the process to count as quiet: they span 5 s, longer than
    /// a housekeeping timer that gives memory back when idle usually waits (ClusterGate's looks every 5 s).
    /// </summary>
    private const int QuietReadings = 6;

    /// <summary>Largest RSS spread (MB) over those readings that still counts as quiet: an idle runtime moves a little.</summary>
    private const double QuietSpreadMb = 2;

    /// <summary>
    /// Waits until <see cref="QuietReadings"/> readings a second apart have the same descriptor count (no probe
    /// connection opening or closing) and RSS within <see cref="QuietSpreadMb"/> (no collection giving memory back).
    /// Returns how long that took, or null when the process was not quiet within <paramref name="limit"/>.
    /// </summary>
    public async Task<TimeSpan?> WaitQuietAsync(TimeSpan limit, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var window = new Queue<ProcessSample>();
        for (var tick = 0; ; tick++)
        {
            await DelayUntilAsync(started, tick, ct);
            if (process.Sample() is not { } sample)
            {
                return null;
            }

            window.Enqueue(sample);
            if (window.Count > QuietReadings)
            {
                window.Dequeue();
            }

            if (window.Count == QuietReadings && window.All(s => s.Fds == sample.Fds)
                && window.Max(s => s.RssMb) - window.Min(s => s.RssMb) <= QuietSpreadMb)
            {
                return Stopwatch.GetElapsedTime(started);
            }

            if (Stopwatch.GetElapsedTime(started) >= limit)
            {
                return null;
            }
        }
    }

    /// <summary><paramref name="count"/> RSS readings (MB) a second apart; fewer when the process went away.</summary>
    public async Task<List<double>> ReadingsAsync(int count, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var readings = new List<double>(count);
        for (var tick = 0; tick < count; tick++)
        {
            await DelayUntilAsync(started, tick, ct);
            if (process.Sample() is not { } sample)
            {
                break;
            }

            readings.Add(sample.RssMb);
        }

        return readings;
    }

    /// <summary>
    /// Reads RSS every second for <paramref name="duration"/>, from now (0 s): keeps every
    /// <paramref name="pointEvery"/>-th reading (and the last), and the first reading at most
    /// <paramref name="withinMb"/> above <paramref name="idleMb"/>. Stops early only when the process is gone.
    /// </summary>
    public async Task<RssFall> FollowAsync(double idleMb, double withinMb, TimeSpan duration, int pointEvery, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var seconds = (int)Math.Ceiling(duration.TotalSeconds);
        var points = new List<(int AtS, double RssMb)>();
        (int AtS, double RssMb)? returned = null;
        for (var tick = 0; tick <= seconds; tick++)
        {
            await DelayUntilAsync(started, tick, ct);
            if (process.Sample() is not { } sample)
            {
                return new RssFall(points, returned, $"the process is gone after {tick} s");
            }

            if (returned is null && sample.RssMb - idleMb <= withinMb)
            {
                returned = (tick, sample.RssMb);
            }

            if (tick % pointEvery == 0 || tick == seconds)
            {
                points.Add((tick, sample.RssMb));
            }
        }

        return new RssFall(points, returned, null);
    }

    public static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN
            : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2]
            : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>On a fixed grid from <paramref name="started"/>, so slow readings do not stretch the series.</summary>
    private static async Task DelayUntilAsync(long started, int tick, CancellationToken ct)
    {
        var wait = (tick * Second) - Stopwatch.GetElapsedTime(started);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, ct);
        }
    }
}

/// <summary>RSS after a burst: the kept readings, the first one close enough to idle (null: none), why it stopped early.</summary>
internal sealed record RssFall(List<(int AtS, double RssMb)> Points, (int AtS, double RssMb)? Returned, string? Stopped);
