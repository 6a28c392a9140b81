using System.Diagnostics;
using System.Globalization;

namespace ClusterGate.FailoverDrill;

/// <summary>Stopwatch timestamps of one crash cycle (0 = did not happen).</summary>
internal sealed class CrashMarks
{
    private long _confirmed;
    private string? _crashReply;

    public long CycleStart { get; init; }
    public long CycleEnd { get; set; }
    public long T0 { get; set; }

    /// <summary>The crash connection closed: the process is gone. Set by the crash-watch thread.</summary>
    public long Confirmed { get => Volatile.Read(ref _confirmed); set => Volatile.Write(ref _confirmed, value); }

    /// <summary>DEBUG SEGFAULT was answered instead (debug commands disabled).</summary>
    public string? CrashReply { get => Volatile.Read(ref _crashReply); set => Volatile.Write(ref _crashReply, value); }

    /// <summary>T2 counts writes sent from here: crash confirmed, or the promotion if that came first.</summary>
    public long ResumeFrom { get; set; }
    public long PfailAt { get; set; }
    public long PromotedAt { get; set; }
    public long RejoinedAt { get; set; }
}

/// <summary>
/// The drill: steady writes through the target; then, once per crash, DEBUG SEGFAULT on the master behind it,
/// wait for writes to resume, restart the crashed node and wait until it is a replica again; the next crash
/// takes the group's current master. At the end every acknowledged key is read back from the final master.
/// </summary>
internal sealed partial class Drill
{
    private static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);
    private readonly DrillOptions _o;
    private readonly Action<string> _log;
    private readonly string _runId = Guid.NewGuid().ToString("N")[..8];
    private readonly AckWatch _watch = new();

    public Drill(DrillOptions options, Action<string> log)
    {
        _o = options;
        _log = log;
    }

    public DrillResult Run(CancellationToken cancellationToken)
    {
        var result = new DrillResult
        {
            Target = _o.Target, LabNode = _o.LabNode, RunId = _runId, Clients = _o.Clients, Rate = _o.Rate,
            DurationMs = _o.Duration.TotalMilliseconds, CrashAfterMs = _o.CrashAfter.TotalMilliseconds, CrashesRequested = _o.Crashes,
        };

        // ---- setup: which master does the target lead to?
        List<ClusterNode> nodes;
        using (var lab = ConnectControl(_o.LabNode))
        {
            nodes = ClusterView.Fetch(lab);
            CheckSlotFunction(lab);
        }

        var masters = nodes.Where(n => n.IsMaster && !n.IsFailed && n.Slots.Count > 0).ToList();
        if (masters.Count < 2)
        {
            throw new SetupException($"expected at least 2 healthy masters with slots, CLUSTER NODES on {_o.LabNode} shows {masters.Count}");
        }

        var master = _o.Master is not null
            ? masters.FirstOrDefault(m => m.Address == _o.Master) ?? throw new SetupException($"--master {_o.Master} is not a healthy master with slots")
            : FindTargetMaster(masters, result);
        var replicas = nodes.Where(n => n.MasterId == master.Id && !n.IsFailed).ToList();
        if (replicas.Count == 0)
        {
            throw new SetupException($"master {master.Address} has no healthy replica: a crash would not be followed by a promotion");
        }

        // Another group's master: it stays up through every crash of the drill's group.
        var survivor = masters.First(m => m.Id != master.Id);
        var tag = KeySlot.TagFor(master, "drill");
        var slot = KeySlot.Of("{" + tag + "}");
        result.Master = master.Address;
        result.MasterId = master.Id;
        result.Replicas = replicas.Select(r => r.Address).ToList();
        result.Survivor = survivor.Address;
        result.KeyPattern = $"drill:{{{tag}}}:{_runId}:<writer>:<n>";
        result.Slot = slot;
        result.RestartMethod = _o.Restart ? PlanRestart(master).Describe() : "off";
        _log($"target {_o.Target} leads to master {master.Address} (replicas {string.Join(",", result.Replicas)}); keys {result.KeyPattern} slot {slot}; polling {survivor.Address}; {_o.Crashes} crash(es)");

        // ---- writers, and one crash cycle after another
        var writers = Enumerable.Range(0, _o.Clients)
            .Select(i => new Writer(i, _o, $"drill:{{{tag}}}:{_runId}:{i}:", $"v:{_runId}:{i}:", (double)_o.Rate / _o.Clients, _watch))
            .ToList();
        var marks = new List<CrashMarks>();
        var start = Stopwatch.GetTimestamp();
        long stopped;
        foreach (var w in writers)
        {
            w.Start(start);
        }

        try
        {
            ClusterNode? victim = master;
            var cycleStart = start;
            for (var k = 1; k <= _o.Crashes && victim is not null && !cancellationToken.IsCancellationRequested; k++)
            {
                var crash = new CrashResult { Index = k, Crashed = victim.Address, CrashedId = victim.Id };
                var mark = new CrashMarks { CycleStart = cycleStart };
                result.Crashes.Add(crash);
                marks.Add(mark);
                victim = RunCrash(victim, survivor.Address, slot, tag, k == _o.Crashes, mark, crash, cancellationToken);
                if (mark.T0 == 0)
                {
                    // Interrupted before this crash: nothing to report for it.
                    result.Crashes.Remove(crash);
                    marks.Remove(mark);
                }

                cycleStart = Stopwatch.GetTimestamp();
            }
        }
        finally
        {
            StopAll(writers);
            stopped = Stopwatch.GetTimestamp();
        }

        _log($"writers stopped after {result.Crashes.Count} crash(es)");
        for (var i = 0; i < marks.Count; i++)
        {
            marks[i].CycleEnd = i + 1 < marks.Count ? marks[i + 1].CycleStart : stopped;
        }

        // ---- settle and verify
        var owner = WaitForClusterOk(survivor.Address, result.Crashes.LastOrDefault()?.CrashedId ?? string.Empty, slot);
        List<Ack> lost = [];
        if (owner is null)
        {
            result.VerifyNote = $"cluster not OK for slot {slot} within {_o.SettleTimeout.TotalSeconds:0}s; acknowledged writes not verified";
            _log(result.VerifyNote);
        }
        else
        {
            result.FinalMaster = owner.Address;
            _log($"cluster OK, slot {slot} on {owner.Address}; reading back {writers.Sum(w => w.Acks.Count)} acknowledged keys");
            lost = Verifier.Verify(owner.Address, writers, result);
        }

        DrillStats.Fill(result, marks, writers, lost, start, stopped);
        return result;
    }

    /// <summary>
    /// One crash cycle: crash <paramref name="victim"/> at --crash-after into the cycle, wait for the promotion
    /// and for writes to resume, restart the node and wait until it is a replica again. The cycle ends at the
    /// latest of: --duration after its start, the node back, --crash-after after writes resumed. Returns the
    /// group's current master for the next crash, or null when the drill cannot go on.
    /// </summary>
    private ClusterNode? RunCrash(ClusterNode victim, string survivor, int slot, string tag, bool last, CrashMarks mark, CrashResult crash, CancellationToken cancellationToken)
    {
        var plan = _o.Restart ? PlanRestart(victim) : null;
        var crashConnection = ConnectControl(victim.Address);
        SleepUntil(mark.CycleStart + Ticks(_o.CrashAfter), cancellationToken);
        if (cancellationToken.IsCancellationRequested)
        {
            crashConnection.Dispose();
            return null;
        }

        mark.T0 = Stopwatch.GetTimestamp();
        crash.CrashAtClock = DateTime.Now.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
        var closeWatch = SendCrash(crashConnection, mark);
        var poller = new PromotionPoller(survivor, victim.Id, slot, PollInterval);
        poller.Start();
        _log($"crash {crash.Index}: DEBUG SEGFAULT sent to {victim.Address} at {crash.CrashAtClock}");

        // Writes resumed: a write sent after the crash was confirmed (or after the promotion, when the dying
        // node is still writing its crash report then) has been acknowledged.
        long ResumeFrom() => mark.Confirmed > 0 && poller.PromotedAt > 0 ? Math.Min(mark.Confirmed, poller.PromotedAt) : poller.PromotedAt;
        var deadline = Deadline(_o.SettleTimeout);
        while (!cancellationToken.IsCancellationRequested && Stopwatch.GetTimestamp() < deadline && mark.CrashReply is null
            && (poller.PromotedAt == 0 || _watch.LatestSentAt < ResumeFrom()))
        {
            Thread.Sleep(5);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            // Interrupted: still wait for the promotion, the crashed node must not be restarted before it (it
            // would come back as the master, with whatever data its disk has).
            while (Stopwatch.GetTimestamp() < deadline && mark.CrashReply is null && poller.PromotedAt == 0)
            {
                Thread.Sleep(5);
            }
        }

        poller.Stop();
        if (mark.CrashReply is { } answered)
        {
            throw new SetupException($"DEBUG SEGFAULT on {victim.Address} answered {answered} (enable-debug-command yes?)");
        }

        mark.PfailAt = poller.PfailAt;
        mark.PromotedAt = poller.PromotedAt;
        mark.ResumeFrom = ResumeFrom();
        crash.NewMaster = poller.NewMaster;
        crash.Polls = poller.Polls;
        var resumedAt = Stopwatch.GetTimestamp();
        var resumed = mark.ResumeFrom > 0 && _watch.LatestSentAt >= mark.ResumeFrom;
        _log($"crash {crash.Index}: promotion {(poller.PromotedAt > 0 ? $"to {poller.NewMaster}" : "NOT seen")}, writes {(resumed ? "resumed" : "NOT resumed")}");
        var interrupted = cancellationToken.IsCancellationRequested;
        if (poller.PromotedAt == 0 || (!interrupted && !resumed))
        {
            crash.Note = $"within {_o.SettleTimeout.TotalSeconds:0} s: promotion {(poller.PromotedAt > 0 ? "seen" : "not seen")}, writes {(resumed ? "resumed" : "not resumed")}; no further crashes";
            return null;
        }

        // A restart while the old process still writes its crash report would find the node "running".
        closeWatch.Join();
        if (mark.Confirmed == 0)
        {
            crash.Note = $"{victim.Address} still had its connections open {_o.SettleTimeout.TotalSeconds:0} s after DEBUG SEGFAULT; no further crashes";
            return null;
        }

        if (plan is not null)
        {
            crash.Restarted = plan.Run(out var note);
            crash.RestartNote = note;
            if (interrupted)
            {
                // Interrupted: the node is started again (the lab stays whole), the rest is not waited for.
                crash.Note = "interrupted; the crashed node was restarted, its rejoining not waited for";
                return null;
            }

            var owner = crash.Restarted ? WaitForClusterOk(survivor, victim.Id, slot) : null;
            mark.RejoinedAt = owner is null ? 0 : WaitForRejoin(victim, owner, survivor, out note);
            if (mark.RejoinedAt == 0)
            {
                crash.RestartNote += "; " + note;
                _log($"crash {crash.Index}: {crash.RestartNote}");
                if (!last)
                {
                    crash.Note = "the crashed node did not rejoin as a replica; no further crashes";
                    return null;
                }
            }
            else
            {
                _log($"crash {crash.Index}: {victim.Address} is a replica of {owner!.Address} again");
            }
        }

        // Steady writes after the resumption too, as long as before the crash.
        SleepUntil(Math.Max(mark.CycleStart + Ticks(_o.Duration), resumedAt + Ticks(_o.CrashAfter)), cancellationToken);
        if (last)
        {
            return null;
        }

        // The group's master now: the owner of the drill's slot (what a shard port leads to, and what the
        // router sends the drill's keys to).
        var next = WaitForClusterOk(survivor, victim.Id, slot);
        if (next is null)
        {
            crash.Note = $"no healthy owner of slot {slot} within {_o.SettleTimeout.TotalSeconds:0} s; no further crashes";
            return null;
        }

        if (_o.Master is null && !ProbeLeadsTo(next.Address, tag).Reached)
        {
            crash.Note = $"a probe written through {_o.Target} did not reach the group's master {next.Address}";
        }

        return next;
    }

    /// <summary>
    /// Sends DEBUG SEGFAULT and, on a thread of its own, waits for the connection to close: then the process is
    /// gone. Redis writes a crash report first, with a memory test that takes seconds on a big data set, and
    /// meanwhile neither answers nor closes a socket (the cluster may fail it over before it is gone).
    /// </summary>
    private Thread SendCrash(RespConnection connection, CrashMarks mark)
    {
        try
        {
            connection.Append("DEBUG", "SEGFAULT");
            connection.Flush();
        }
        catch (RespConnectionException)
        {
            // Gone before it was asked: the read below says so at once.
        }

        var thread = new Thread(() =>
        {
            try
            {
                connection.Timeout = _o.SettleTimeout;
                mark.CrashReply = connection.Read().ToString();
            }
            catch (RespConnectionException e) when (!e.TimedOut)
            {
                mark.Confirmed = Stopwatch.GetTimestamp();
            }
            catch (RespConnectionException)
            {
            }
            finally
            {
                connection.Dispose();
            }
        })
        { IsBackground = true, Name = "crash-watch" };
        thread.Start();
        return thread;
    }

    private static void StopAll(List<Writer> writers)
    {
        foreach (var w in writers)
        {
            w.Stop();
        }

        foreach (var w in writers)
        {
            w.Join();
        }
    }

    private static void SleepUntil(long timestamp, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var left = timestamp - Stopwatch.GetTimestamp();
            if (left <= 0)
            {
                return;
            }

            Thread.Sleep((int)Math.Clamp(left * 1000 / Stopwatch.Frequency, 1, 50));
        }
    }

    private static long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Stopwatch.Frequency);
}
