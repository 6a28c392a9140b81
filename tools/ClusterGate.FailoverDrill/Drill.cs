using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace ClusterGate.FailoverDrill;

/// <summary>Setup could not complete: nothing was measured.</summary>
internal sealed class SetupException : Exception
{
    public SetupException()
    {
    }

    public SetupException(string message)
        : base(message)
    {
    }

    public SetupException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

internal sealed partial class Drill
{
    private static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);
    private readonly DrillOptions _o;
    private readonly Action<string> _log;
    private readonly string _runId = Guid.NewGuid().ToString("N")[..8];
    private readonly long _origin = Stopwatch.GetTimestamp();

    public Drill(DrillOptions options, Action<string> log)
    {
        _o = options;
        _log = log;
    }

    public DrillResult Run(CancellationToken cancellationToken)
    {
        var result = new DrillResult { Target = _o.Target, LabNode = _o.LabNode, RunId = _runId, Clients = _o.Clients, Rate = _o.Rate, DurationMs = _o.Duration.TotalMilliseconds, CrashAfterMs = _o.CrashAfter.TotalMilliseconds };

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

        var survivor = masters.First(m => m.Id != master.Id);
        var tag = KeySlot.TagFor(master, "drill");
        var dataSlot = KeySlot.Of("{" + tag + "}");
        result.Master = master.Address;
        result.MasterId = master.Id;
        result.Replicas = replicas.Select(r => r.Address).ToList();
        result.Survivor = survivor.Address;
        result.KeyPattern = $"drill:{{{tag}}}:{_runId}:<writer>:<n>";
        result.Slot = dataSlot;
        var restartPlan = PlanRestart(master);
        result.RestartMethod = restartPlan.Describe();
        _log($"target {_o.Target} leads to master {master.Address} (replicas {string.Join(",", result.Replicas)}); keys {result.KeyPattern} slot {dataSlot}; polling {survivor.Address}");

        using var crashConnection = ConnectControl(master.Address);

        // ---- writers
        var writers = Enumerable.Range(0, _o.Clients)
            .Select(i => new Writer(i, _o, $"drill:{{{tag}}}:{_runId}:{i}:", $"v:{_runId}:{i}:", (double)_o.Rate / _o.Clients))
            .ToList();
        var start = Stopwatch.GetTimestamp();
        foreach (var w in writers)
        {
            w.Start(start);
        }

        var end = start + (long)(_o.Duration.TotalSeconds * Stopwatch.Frequency);
        SleepUntil(start + (long)(_o.CrashAfter.TotalSeconds * Stopwatch.Frequency), cancellationToken);

        // ---- crash
        long t0 = 0, crashConfirmed = 0;
        var poller = new PromotionPoller(survivor.Address, master.Id, dataSlot, PollInterval);
        if (!cancellationToken.IsCancellationRequested)
        {
            t0 = Stopwatch.GetTimestamp();
            try
            {
                var reply = crashConnection.Execute("DEBUG", "SEGFAULT");
                StopAll(writers);
                throw new SetupException($"DEBUG SEGFAULT on {master.Address} answered {reply} (enable-debug-command yes?)");
            }
            catch (RespConnectionException)
            {
                crashConfirmed = Stopwatch.GetTimestamp();
            }

            poller.Start();
            _log($"DEBUG SEGFAULT sent to {master.Address}");
        }

        SleepUntil(end, cancellationToken);
        StopAll(writers);
        poller.Stop();
        var stopped = Stopwatch.GetTimestamp();
        _log($"writers stopped; promotion {(poller.PromotedAt > 0 ? $"seen on {survivor.Address}: {poller.NewMaster}" : "NOT seen")}");

        // ---- timeline
        result.CrashAtMs = t0 > 0 ? Ms(t0 - start) : null;
        result.CrashConfirmedMs = crashConfirmed > 0 ? Ms(crashConfirmed - t0) : null;
        result.FailFlagMs = poller.PfailAt > 0 ? Ms(poller.PfailAt - t0) : null;
        result.PromotionMs = poller.PromotedAt > 0 ? Ms(poller.PromotedAt - t0) : null;
        result.NewMaster = poller.NewMaster;
        result.Polls = poller.Polls;
        var acks = writers.SelectMany(w => w.Acks).ToList();
        var failures = writers.SelectMany(w => w.Failures).ToList();
        if (crashConfirmed > 0)
        {
            var resumed = acks.Where(a => a.SentAt >= crashConfirmed).Select(a => a.DoneAt).DefaultIfEmpty().Min();
            var afterPromotion = poller.PromotedAt > 0 ? acks.Where(a => a.DoneAt >= poller.PromotedAt).Select(a => a.DoneAt).DefaultIfEmpty().Min() : 0;
            var lastBefore = acks.Where(a => a.DoneAt < t0).Select(a => a.DoneAt).DefaultIfEmpty().Max();
            var firstFailure = failures.Where(f => f.DoneAt >= t0).Select(f => f.DoneAt).DefaultIfEmpty().Min();
            result.FirstWriteAfterCrashMs = resumed > 0 ? Ms(resumed - t0) : null;
            result.PromotionToFirstWriteMs = resumed > 0 && poller.PromotedAt > 0 ? Ms(resumed - poller.PromotedAt) : null;
            result.FirstAckCompletedAfterPromotionMs = afterPromotion > 0 ? Ms(afterPromotion - poller.PromotedAt) : null;
            result.LastAckBeforeCrashMs = lastBefore > 0 ? Ms(lastBefore - t0) : null;
            result.FirstFailureAfterCrashMs = firstFailure > 0 ? Ms(firstFailure - t0) : null;
        }

        result.Attempted = writers.Sum(w => w.Attempted);
        result.Acked = acks.Count;
        result.Disconnects = writers.Sum(w => w.Disconnects);
        result.Timeouts = writers.Sum(w => w.Timeouts);
        result.ConnectFailures = writers.Sum(w => w.ConnectFailures);
        result.RunMs = Ms(stopped - start);
        foreach (var group in failures.GroupBy(f => f.Kind).OrderByDescending(g => g.Count()))
        {
            var sample = writers.Select(w => w.ErrorSamples.GetValueOrDefault(group.Key)).FirstOrDefault(s => s is not null) ?? string.Empty;
            result.Errors.Add(new ErrorKind(group.Key, group.Count(), sample, Ms(group.Min(f => f.DoneAt) - start), Ms(group.Max(f => f.DoneAt) - start)));
        }

        result.Timeline = BuildTimeline(start, stopped, acks, failures);

        // ---- settle and verify
        var owner = WaitForClusterOk(survivor.Address, master.Id, dataSlot);
        if (owner is null)
        {
            result.VerifyNote = $"cluster not OK for slot {dataSlot} within {_o.SettleTimeout.TotalSeconds:0}s; acknowledged writes not verified";
            _log(result.VerifyNote);
        }
        else
        {
            _log($"cluster OK, slot {dataSlot} on {owner}; reading back {acks.Count} acknowledged keys");
            Verify(owner, writers, result);
        }

        // ---- restart
        if (_o.Restart && t0 > 0)
        {
            result.Restarted = restartPlan.Run(_log, out var note);
            result.RestartNote = note;
        }

        return result;
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

    private static double Ms(long ticks) => Math.Round(ticks * 1000.0 / Stopwatch.Frequency, 1);

    private static RespConnection ConnectControl(string address)
    {
        try
        {
            return RespConnection.Connect(address, ControlTimeout);
        }
        catch (RespConnectionException e)
        {
            throw new SetupException(e.Message, e);
        }
    }

    private void CheckSlotFunction(RespConnection lab)
    {
        const string probe = "drill:{slot-check}:x";
        var reply = lab.Execute("CLUSTER", "KEYSLOT", probe);
        if (reply.Kind != RespKind.Integer || reply.Integer != KeySlot.Of(probe))
        {
            throw new SetupException($"CLUSTER KEYSLOT {probe} on {_o.LabNode} answered {reply}, local CRC16 says {KeySlot.Of(probe)}");
        }
    }

    /// <summary>
    /// Writes one probe key per master (a hash tag in that master's slots) through the target; the master
    /// whose probe is acknowledged and then found on that master directly is the one behind the target.
    /// </summary>
    private ClusterNode FindTargetMaster(List<ClusterNode> masters, DrillResult result)
    {
        var found = new List<ClusterNode>();
        var replies = new List<string>();
        using var target = ConnectTarget();
        foreach (var m in masters)
        {
            var key = $"drill:probe:{{{KeySlot.TagFor(m, "probe")}}}:{_runId}";
            var value = "probe-" + _runId;
            var reply = target.Execute("SET", key, value, "PX", "600000");
            replies.Add($"{m.Address}: {reply}");
            if (reply.Kind != RespKind.Simple)
            {
                continue;
            }

            using var direct = ConnectControl(m.Address);
            if (direct.Execute("GET", key).Text == value)
            {
                found.Add(m);
            }

            direct.Execute("DEL", key);
        }

        if (found.Count == 0)
        {
            throw new SetupException($"no probe write through {_o.Target} reached a master: {string.Join("; ", replies)}");
        }

        if (found.Count > 1)
        {
            result.Notes.Add($"the target accepted keys of {found.Count} masters (a router?); crashing the first one, {found[0].Address} (choose with --master)");
        }

        return found[0];
    }

    private RespConnection ConnectTarget()
    {
        try
        {
            return RespConnection.Connect(_o.Target, _o.OpTimeout);
        }
        catch (RespConnectionException e)
        {
            throw new SetupException($"target: {e.Message}", e);
        }
    }

    /// <summary>Waits for cluster_state:ok on the survivor and a healthy master owning the slot; returns its address.</summary>
    private string? WaitForClusterOk(string survivor, string crashedId, int slot)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(_o.SettleTimeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            try
            {
                using var c = RespConnection.Connect(survivor, ControlTimeout);
                var info = c.Execute("CLUSTER", "INFO").Text ?? string.Empty;
                var owner = ClusterView.Fetch(c).FirstOrDefault(n => n.IsMaster && !n.IsFailed && n.OwnsSlot(slot) && n.Id != crashedId);
                if (info.Contains("cluster_state:ok", StringComparison.Ordinal) && owner is not null)
                {
                    return owner.Address;
                }
            }
            catch (RespConnectionException)
            {
            }

            Thread.Sleep(100);
        }

        return null;
    }

    /// <summary>GETs every acknowledged key on the slot's master (pipelined, following MOVED/ASK) and counts missing and wrong values.</summary>
    private static void Verify(string owner, List<Writer> writers, DrillResult result)
    {
        const int batch = 512;
        var items = writers.SelectMany(w => w.Acks.Select(a => (Writer: w, a.Seq))).ToList();
        using var c = ConnectControl(owner);
        c.Timeout = TimeSpan.FromSeconds(10);
        for (var i = 0; i < items.Count; i += batch)
        {
            var slice = items.Skip(i).Take(batch).ToList();
            foreach (var (w, seq) in slice)
            {
                c.Append("GET", w.Key(seq));
            }

            c.Flush();
            foreach (var (w, seq) in slice)
            {
                var reply = c.Read();
                if (reply.IsError && reply.ErrorKind is "MOVED" or "ASK")
                {
                    reply = GetRedirected(w.Key(seq), reply, 5);
                }

                Classify(reply, w.Value(seq), w.Key(seq), result);
            }
        }

        result.Verified = items.Count;
    }

    private static void Classify(RespValue reply, string expected, string key, DrillResult result)
    {
        if (reply.Kind == RespKind.Null)
        {
            result.LostMissing++;
            AddLostSample(result, key + " missing");
        }
        else if (reply.Text != expected)
        {
            result.LostWrong++;
            AddLostSample(result, $"{key} = {reply}");
        }
    }

    private static void AddLostSample(DrillResult result, string sample)
    {
        if (result.LostSamples.Count < 5)
        {
            result.LostSamples.Add(sample);
        }
    }

    private static RespValue GetRedirected(string key, RespValue redirect, int hops)
    {
        while (hops-- > 0 && redirect.IsError && redirect.ErrorKind is "MOVED" or "ASK")
        {
            var parts = redirect.Line!.Split(' ');
            using var c = ConnectControl(parts[2]);
            if (redirect.ErrorKind == "ASK")
            {
                c.Execute("ASKING");
            }

            redirect = c.Execute("GET", key);
        }

        return redirect;
    }

    private static List<TimelineBucket> BuildTimeline(long start, long stopped, List<Ack> acks, List<Failure> failures)
    {
        var width = Stopwatch.Frequency / 2; // 500 ms
        var count = (int)((stopped - start) / width) + 1;
        var buckets = Enumerable.Range(0, count).Select(i => new TimelineBucket(i * 500, 0, 0)).ToArray();
        foreach (var a in acks)
        {
            var i = (int)Math.Clamp((a.DoneAt - start) / width, 0, count - 1);
            buckets[i] = buckets[i] with { Acked = buckets[i].Acked + 1 };
        }

        foreach (var f in failures)
        {
            var i = (int)Math.Clamp((f.DoneAt - start) / width, 0, count - 1);
            buckets[i] = buckets[i] with { Failed = buckets[i].Failed + 1 };
        }

        return [.. buckets];
    }

    private RestartPlan PlanRestart(ClusterNode master)
    {
        string info;
        using (var c = ConnectControl(master.Address))
        {
            info = c.Execute("INFO", "server").Text ?? string.Empty;
        }

        var configFile = ConfigFileLine().Match(info) is { Success: true } m ? m.Groups[1].Value.Trim() : string.Empty;
        var port = Endpoints.Split(master.Address).Port;
        if (configFile.Length == 0)
        {
            return new RestartPlan(master.Address, null, null, port, null);
        }

        // A lab started by cluster-lab/lab.sh keeps node configs in <repo>/cluster-lab/.lab-<base>/<port>/redis.conf.
        var labMatch = LabConfigPath().Match(configFile);
        var script = _o.LabScript;
        if (labMatch.Success)
        {
            script ??= Path.Combine(labMatch.Groups["root"].Value, "lab.sh");
            if (File.Exists(script))
            {
                return new RestartPlan(master.Address, script, labMatch.Groups["base"].Value, port, configFile);
            }
        }

        return new RestartPlan(master.Address, null, null, port, configFile);
    }

    [GeneratedRegex(@"^config_file:(.*)$", RegexOptions.Multiline)]
    private static partial Regex ConfigFileLine();

    [GeneratedRegex(@"^(?<root>.*/cluster-lab)/\.lab-(?<base>\d+)/\d+/redis\.conf$")]
    private static partial Regex LabConfigPath();
}

/// <summary>How the crashed node is started again: <c>lab.sh restart PORT --base-port BASE</c> when it belongs to a lab.sh lab, else <c>redis-server CONFIG --daemonize yes</c>.</summary>
internal sealed record RestartPlan(string Address, string? LabScript, string? BasePort, int Port, string? ConfigFile)
{
    public string Describe() =>
        LabScript is not null ? $"{LabScript} restart {Port} --base-port {BasePort}"
        : ConfigFile is not null ? $"redis-server {ConfigFile} --daemonize yes"
        : "none (the node reports no config_file)";

    public bool Run(Action<string> log, out string note)
    {
        if (LabScript is null && ConfigFile is null)
        {
            note = "not restarted: the node reports no config_file";
            return false;
        }

        var psi = LabScript is not null
            ? new ProcessStartInfo(LabScript) { ArgumentList = { "restart", Port.ToString(CultureInfo.InvariantCulture), "--base-port", BasePort! } }
            : new ProcessStartInfo("redis-server") { ArgumentList = { ConfigFile!, "--daemonize", "yes" } };
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.UseShellExecute = false;
        try
        {
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromSeconds(40)))
            {
                note = $"{Describe()} did not finish within 40 s";
                return false;
            }

            var output = (stdout.Result + stderr.Result).Trim();
            if (p.ExitCode != 0)
            {
                note = $"{Describe()} exited {p.ExitCode}: {output}";
                return false;
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            note = $"{Describe()}: {e.Message}";
            return false;
        }

        // Wait for it to answer and to rejoin (it comes back as a replica of the promoted node).
        var address = Address;
        var deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            try
            {
                using var c = RespConnection.Connect(address, TimeSpan.FromSeconds(1));
                var role = c.Execute("ROLE");
                var info = c.Execute("CLUSTER", "INFO").Text ?? string.Empty;
                if (info.Contains("cluster_state:ok", StringComparison.Ordinal) && role.Items is { Count: > 0 } items)
                {
                    note = $"restarted with {Describe()}; now {items[0]}";
                    log(note);
                    return true;
                }
            }
            catch (RespConnectionException)
            {
            }

            Thread.Sleep(100);
        }

        note = $"restarted with {Describe()} but {address} did not report cluster_state:ok within 30 s";
        return false;
    }
}
