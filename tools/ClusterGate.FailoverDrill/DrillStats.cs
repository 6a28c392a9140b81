using System.Diagnostics;

namespace ClusterGate.FailoverDrill;

/// <summary>
/// Turns the writers' acks and failures into per-crash and total numbers. Each ack or failure belongs to the
/// crash cycle it completed in; everything is one pass over the writers' lists (millions of acks on a long run).
/// </summary>
internal static class DrillStats
{
    public static void Fill(DrillResult result, List<CrashMarks> marks, List<Writer> writers, List<Ack> lost, long start, long stopped)
    {
        var n = marks.Count;
        var starts = marks.Select(m => m.CycleStart).ToArray();
        var resumed = new long[n];
        var afterPromotion = new long[n];
        var lastBefore = new long[n];
        var firstFailure = new long[n];
        var errors = Enumerable.Range(0, n).Select(_ => new Dictionary<string, Tally>(StringComparer.Ordinal)).ToArray();
        var totalErrors = new Dictionary<string, Tally>(StringComparer.Ordinal);

        foreach (var w in writers)
        {
            foreach (var a in w.Acks)
            {
                var k = Cycle(starts, a.DoneAt);
                if (k < 0)
                {
                    continue;
                }

                var m = marks[k];
                result.Crashes[k].Acked++;
                if (m.ResumeFrom > 0 && a.SentAt >= m.ResumeFrom)
                {
                    resumed[k] = Min(resumed[k], a.DoneAt);
                }

                if (m.PromotedAt > 0 && a.DoneAt >= m.PromotedAt)
                {
                    afterPromotion[k] = Min(afterPromotion[k], a.DoneAt);
                }

                if (m.T0 > 0 && a.DoneAt < m.T0)
                {
                    lastBefore[k] = Math.Max(lastBefore[k], a.DoneAt);
                }
            }

            foreach (var f in w.Failures)
            {
                Count(totalErrors, f);
                var k = Cycle(starts, f.DoneAt);
                if (k < 0)
                {
                    continue;
                }

                Count(errors[k], f);
                if (marks[k].T0 > 0 && f.DoneAt >= marks[k].T0)
                {
                    firstFailure[k] = Min(firstFailure[k], f.DoneAt);
                }
            }

            foreach (var t in w.ConnectFailureTimes)
            {
                if (Cycle(starts, t) is var k and >= 0)
                {
                    result.Crashes[k].ConnectFailures++;
                }
            }
        }

        var lostFrom = new long[n];
        var lostTo = new long[n];
        foreach (var a in lost)
        {
            if (Cycle(starts, a.DoneAt) is var k and >= 0)
            {
                result.Crashes[k].Lost++;
                lostFrom[k] = Min(lostFrom[k], a.DoneAt);
                lostTo[k] = Math.Max(lostTo[k], a.DoneAt);
            }
        }

        for (var k = 0; k < n; k++)
        {
            var (c, m) = (result.Crashes[k], marks[k]);
            c.CycleStartMs = Ms(m.CycleStart - start);
            c.CycleEndMs = Ms(m.CycleEnd - start);
            c.CrashAtMs = m.T0 > 0 ? Ms(m.T0 - start) : 0;
            c.CrashConfirmedMs = Since(m.T0, m.Confirmed);
            c.FailFlagMs = Since(m.T0, m.PfailAt);
            c.PromotionMs = Since(m.T0, m.PromotedAt);
            c.RejoinedMs = Since(m.T0, m.RejoinedAt);
            c.FirstWriteAfterCrashMs = Since(m.T0, resumed[k]);
            c.PromotionToFirstWriteMs = m.PromotedAt > 0 && resumed[k] > 0 ? Ms(resumed[k] - m.PromotedAt) : null;
            c.FirstAckCompletedAfterPromotionMs = Since(m.PromotedAt, afterPromotion[k]);
            c.LastAckBeforeCrashMs = Since(m.T0, lastBefore[k]);
            c.FirstFailureAfterCrashMs = Since(m.T0, firstFailure[k]);
            c.LostAckedFromMs = Since(m.T0, lostFrom[k]);
            c.LostAckedToMs = Since(m.T0, lostTo[k]);
            c.Disconnects = errors[k].GetValueOrDefault("DISCONNECT").Count;
            c.Timeouts = errors[k].GetValueOrDefault("TIMEOUT").Count;
            c.Attempted = c.Acked + errors[k].Values.Sum(e => e.Count);
            c.Errors.AddRange(Kinds(errors[k], start));
        }

        result.RunMs = Ms(stopped - start);
        result.Attempted = writers.Sum(w => w.Attempted);
        result.Acked = writers.Sum(w => w.Acks.Count);
        result.Disconnects = writers.Sum(w => w.Disconnects);
        result.Timeouts = writers.Sum(w => w.Timeouts);
        result.ConnectFailures = writers.Sum(w => w.ConnectFailures);
        result.Errors.AddRange(Kinds(totalErrors, start));
        result.Timeline = Timeline(start, stopped, writers);
        (result.MaxPromotionToFirstWriteMs, result.MedianPromotionToFirstWriteMs) = MaxMedian(result.Crashes.Select(c => c.PromotionToFirstWriteMs));
        (result.MaxFirstWriteAfterCrashMs, result.MedianFirstWriteAfterCrashMs) = MaxMedian(result.Crashes.Select(c => c.FirstWriteAfterCrashMs));
    }

    public static (double? Max, double? Median) MaxMedian(IEnumerable<double?> values)
    {
        var sorted = values.Where(v => v.HasValue).Select(v => v!.Value).Order().ToList();
        if (sorted.Count == 0)
        {
            return (null, null);
        }

        var mid = sorted.Count / 2;
        var median = sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        return (sorted[^1], Math.Round(median, 1));
    }

    /// <summary>The crash cycle a timestamp falls in: the last one started at or before it (-1 before the first).</summary>
    private static int Cycle(long[] starts, long at)
    {
        var i = Array.BinarySearch(starts, at);
        return i >= 0 ? i : ~i - 1;
    }

    private static void Count(Dictionary<string, Tally> kinds, Failure f)
    {
        if (kinds.TryGetValue(f.Kind, out var t))
        {
            // The earliest failure's text is the sample.
            kinds[f.Kind] = new Tally(t.Count + 1, Math.Min(t.First, f.DoneAt), Math.Max(t.Last, f.DoneAt), f.DoneAt < t.First ? f.Detail : t.Sample);
        }
        else
        {
            kinds[f.Kind] = new Tally(1, f.DoneAt, f.DoneAt, f.Detail);
        }
    }

    private static IEnumerable<ErrorKind> Kinds(Dictionary<string, Tally> kinds, long start) =>
        kinds.OrderByDescending(e => e.Value.Count)
            .Select(e => new ErrorKind(e.Key, e.Value.Count, e.Value.Sample, Ms(e.Value.First - start), Ms(e.Value.Last - start)));

    private static List<TimelineBucket> Timeline(long start, long stopped, List<Writer> writers)
    {
        var width = Stopwatch.Frequency / 2; // 500 ms
        var count = (int)((stopped - start) / width) + 1;
        var acked = new int[count];
        var failed = new int[count];
        foreach (var w in writers)
        {
            foreach (var a in w.Acks)
            {
                acked[Math.Clamp((int)((a.DoneAt - start) / width), 0, count - 1)]++;
            }

            foreach (var f in w.Failures)
            {
                failed[Math.Clamp((int)((f.DoneAt - start) / width), 0, count - 1)]++;
            }
        }

        return Enumerable.Range(0, count).Select(i => new TimelineBucket(i * 500, acked[i], failed[i])).ToList();
    }

    private static long Min(long current, long candidate) => current == 0 ? candidate : Math.Min(current, candidate);

    private static double? Since(long from, long to) => from > 0 && to > 0 ? Ms(to - from) : null;

    private readonly record struct Tally(int Count, long First, long Last, string Sample);

    public static double Ms(long ticks) => Math.Round(ticks * 1000.0 / Stopwatch.Frequency, 1);
}
