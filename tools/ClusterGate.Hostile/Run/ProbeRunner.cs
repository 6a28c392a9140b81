using System.Diagnostics;
using System.Net;
using ClusterGate.Hostile.Probes;
using ClusterGate.Hostile.Resp;
using ClusterGate.Hostile.Target;

namespace ClusterGate.Hostile.Run;

/// <summary>
/// Runs probes one after another with the good client working beside them. Around each probe: /proc and
/// connected_clients before; the probe (bounded by --probe-timeout); a settle wait until descriptors (and node
/// clients) are back to where they were, at most --settle; the readings after; a PING on a fresh connection and the
/// pid for "alive". A probe whose target is already gone is not run, and says why.
/// </summary>
internal sealed class ProbeRunner(HostileOptions options, IPEndPoint target, string tag, GoodClient good, Action<string> log)
{
    private static readonly TimeSpan SampleEvery = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan SettlePoll = TimeSpan.FromMilliseconds(100);
    private readonly ProcessWatch _process = new(options.Pid);
    private readonly NodeWatch _node = new(options.Node, options.OpTimeout);

    public async Task<ProbeResult> RunAsync(IProbe probe, CancellationToken ct)
    {
        var result = new ProbeResult { Probe = probe.Name };
        if (Gone() is { } why)
        {
            result.Reply = "not run: " + why;
            result.Skipped = why;
            result.AliveNote = why;
            return result;
        }

        log($"{probe.Name}: start");
        var before = _process.Sample();
        result.NodeClientsBefore = _node.Clients();
        result.NodeRoleBefore = _node.Role();
        good.BeginWindow();
        var started = Stopwatch.GetTimestamp();
        ProbeOutcome outcome;
        ProcessSample? peak;
        await using (var sampler = new PeakSampler(_process, SampleEvery))
        {
            sampler.SampleNow();
            var context = new ProbeContext { Options = options, Target = target, Tag = tag, Process = _process, Sampler = sampler, Log = log };
            outcome = await RunBoundedAsync(probe, context, ct);
            result.ElapsedMs = Durations.Ms(started);
            var settleStarted = Stopwatch.GetTimestamp();
            await SettleAsync(before, result.NodeClientsBefore, ct);
            result.SettleMs = Durations.Ms(settleStarted);
            sampler.SampleNow();
            peak = sampler.Peak;
        }

        var stats = good.EndWindow();
        var after = _process.Sample();
        result.NodeClientsAfter = _node.Clients();
        result.NodeRoleAfter = _node.Role();
        result.Reply = outcome.Reply;
        result.Skipped = outcome.Skipped;
        result.Details = outcome.Details;
        result.Burst = outcome.Burst;
        result.GoodCommands = stats.Commands;
        result.GoodErrors = stats.Errors;
        result.GoodMaxMs = stats.Commands > 0 || stats.StalledMs > 0 ? stats.MaxMs : null;
        result.GoodFirstError = stats.FirstError;
        if (stats.StalledMs > 1000)
        {
            result.Details.Add($"good client: a command has been waiting {stats.StalledMs / 1000:0.0} s at the end of the probe");
        }

        result.RssBeforeMb = before?.RssMb;
        result.FdsBefore = before?.Fds;
        result.RssAfterMb = after?.RssMb;
        result.FdsAfter = after?.Fds;
        result.RssPeakMb = peak?.RssMb;
        result.FdsPeak = peak?.Fds;
        result.AliveNote = Gone();
        result.Alive = result.AliveNote is null;
        log($"{probe.Name}: done in {result.ElapsedMs / 1000:0.0} s, {(result.Alive ? "alive" : "NOT alive: " + result.AliveNote)}");
        return result;
    }

    /// <summary>Null when the target answers PING on a new connection (and its pid exists); else why not.</summary>
    public string? Gone()
    {
        if (_process.Exists() == false)
        {
            return $"pid {options.Pid} is gone";
        }

        try
        {
            using var connection = RespConnection.Connect(options.Target, options.ReplyTimeout);
            var pong = connection.Execute("PING");
            return pong is { Kind: RespKind.Simple, Line: "PONG" } ? null : $"PING answered {pong}";
        }
        catch (RespConnectionException e)
        {
            return e.TimedOut ? $"no PING reply in {Durations.Format(options.ReplyTimeout)}" : $"PING failed: {e.Message}";
        }
    }

    private async Task<ProbeOutcome> RunBoundedAsync(IProbe probe, ProbeContext context, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(options.ProbeTimeout + probe.PlannedWaits(options));
        try
        {
            // On a thread-pool thread: the probes block on sockets in places (control connections).
            return await Task.Run(() => probe.RunAsync(context, bounded.Token), bounded.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            var extra = probe.PlannedWaits(options);
            var bound = extra > TimeSpan.Zero ? $" (+ {Durations.Format(extra)} of planned waits)" : string.Empty;
            return new ProbeOutcome { Reply = $"gave up after --probe-timeout {Durations.Format(options.ProbeTimeout)}{bound}" };
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log($"{probe.Name}: failed: {e}");
            return new ProbeOutcome { Reply = $"probe failed: {e.GetType().Name}: {e.Message}" };
        }
    }

    /// <summary>Waits until descriptors and node clients are back to their baseline, at most --settle.</summary>
    private async Task SettleAsync(ProcessSample? before, int? nodeBefore, CancellationToken ct)
    {
        if (before is null && nodeBefore is null)
        {
            return;
        }

        var deadline = Stopwatch.GetTimestamp() + (long)(options.Settle.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var fdsBack = before is not { } b || _process.Sample() is not { } now || now.Fds <= b.Fds;
            var nodeBack = nodeBefore is not { } nb || _node.Clients() is not { } clients || clients <= nb;
            if (fdsBack && nodeBack)
            {
                return;
            }

            await Task.Delay(SettlePoll, ct);
        }
    }
}
