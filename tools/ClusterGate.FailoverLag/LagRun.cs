using System.Diagnostics;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;

namespace ClusterGate.FailoverLag;

/// <summary>
/// Rounds of: crash a master, stamp when a survivor shows the promotion and when the monitor raises MasterChanged
/// for that group, restart the crashed node, wait until the cluster and the monitor have settled.
/// </summary>
internal sealed class LagRun(LagOptions options, Action<string> log)
{
    private readonly LabControl _control = new(options.StepTimeout, options.LabScript, log);
    private AwaitedChange? _awaited;

    public async Task<IReadOnlyList<LagRound>> RunAsync(Action<LagRound> onRound, CancellationToken ct)
    {
        await using var monitor = new TopologyMonitor(new TopologyMonitorOptions { Seeds = [options.LabNode], FastPollInterval = options.FastPollInterval });
        monitor.EventRaised += OnEvent;
        await monitor.StartAsync(ct);
        var basePort = monitor.Current.Nodes.Min(n => n.Announced.Port);
        await WaitSettledAsync(monitor, null, ct);

        var rounds = new List<LagRound>();
        for (var round = 1; round <= options.Rounds; round++)
        {
            var result = await RunRoundAsync(monitor, round, basePort, ct);
            rounds.Add(result);
            onRound(result);
        }

        return rounds;
    }

    private async Task<LagRound> RunRoundAsync(TopologyMonitor monitor, int round, int basePort, CancellationToken ct)
    {
        var snapshot = monitor.Current;
        var group = snapshot.Groups[(round - 1) % snapshot.Groups.Length];
        var victim = group.Master!;
        var survivor = snapshot.Groups.First(g => g.Id != group.Id).Master!;
        var configFile = await LabControl.ConfigFileAsync(victim.Connect, ct);
        var done = new TaskCompletionSource<(TopologyEvent Event, long At)>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _awaited, new AwaitedChange(group.Id, victim.Id, done));
        log($"round {round}: crashing {victim.Announced} (group {group.Id}), watching {survivor.Announced}");

        using var stopPolling = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stopPolling.CancelAfter(options.StepTimeout);
        var poller = new PromotionPoller(survivor.Connect, victim.Id, group.Slots[0].Start, options.PollInterval);
        var polling = poller.RunAsync(stopPolling.Token);
        var crashedAt = await _control.SegfaultAsync(victim.Connect, ct);

        (long At, NodeEndpoint Master) visible;
        try
        {
            visible = await polling;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new LagStepException($"no promotion visible on {survivor.Announced} within {options.StepTimeout.TotalSeconds:0} s of the crash");
        }

        (TopologyEvent Event, long At) changed;
        try
        {
            changed = await done.Task.WaitAsync(options.StepTimeout, ct);
        }
        catch (TimeoutException)
        {
            throw new LagStepException($"the monitor raised no MasterChanged for group {group.Id} within {options.StepTimeout.TotalSeconds:0} s of the promotion");
        }

        var promoted = monitor.Current.NodeById(changed.Event.NodeId!)?.Announced ?? visible.Master;
        if (promoted != visible.Master)
        {
            log($"round {round}: the monitor names {promoted}, the survivor names {visible.Master}");
        }

        var result = new LagRound(round, group.Id, victim.Announced, promoted, Stopwatch.GetElapsedTime(crashedAt, visible.At), Stopwatch.GetElapsedTime(visible.At, changed.At), poller.Polls);
        await _control.RestartAsync(victim.Connect, configFile, basePort, ct);
        await WaitSettledAsync(monitor, (group.Id, victim.Id), ct);
        return result;
    }

    private void OnEvent(TopologyEvent e)
    {
        var at = Stopwatch.GetTimestamp();
        log(e.ToString());
        if (e.Kind == TopologyEventKind.MasterChanged && Volatile.Read(ref _awaited) is { } awaited && e.GroupId == awaited.GroupId && e.NodeId != awaited.OldMasterId)
        {
            awaited.Done.TrySetResult((e, at));
        }
    }

    /// <summary>
    /// Every group confirmed with a replica whose link is up, nobody down or suspected, and (after a crash) the restarted
    /// node back as a replica of its group: only then can the next crash be failed over.
    /// </summary>
    private async Task WaitSettledAsync(TopologyMonitor monitor, (int GroupId, string NodeId)? rejoining, CancellationToken ct)
    {
        var started = Stopwatch.GetTimestamp();
        var problem = "";
        while (true)
        {
            var snapshot = monitor.Current;
            problem = Problem(snapshot, rejoining);
            if (problem.Length == 0)
            {
                var state = await LabControl.CommandAsync(snapshot.Groups[0].Master!.Connect, ["CLUSTER", "INFO"], ct);
                problem = state.Contains("cluster_state:ok", StringComparison.Ordinal) ? "" : "cluster_state is not ok";
                if (problem.Length == 0)
                {
                    return;
                }
            }

            if (Stopwatch.GetElapsedTime(started) > options.StepTimeout)
            {
                throw new LagStepException($"the cluster did not settle within {options.StepTimeout.TotalSeconds:0} s: {problem}");
            }

            monitor.RequestRefresh("settling");
            await Task.Delay(100, ct);
        }
    }

    private static string Problem(TopologySnapshot snapshot, (int GroupId, string NodeId)? rejoining)
    {
        if (snapshot.Groups.Length == 0 || !snapshot.AllSlotsCovered)
        {
            return "not every slot has a group";
        }

        foreach (var group in snapshot.Groups)
        {
            if (!group.MasterConfirmed)
            {
                return $"group {group.Id} has no confirmed master";
            }

            if (!group.Replicas.Any(r => r.Replication is { MasterLinkUp: true }))
            {
                return $"group {group.Id} has no replica with its link up";
            }
        }

        if (snapshot.Nodes.FirstOrDefault(n => n.IsDown || n.IsSuspected) is { } bad)
        {
            return $"{bad.Announced} is {(bad.IsDown ? "down" : "suspected")}";
        }

        if (rejoining is { } r && snapshot.GroupById(r.GroupId)?.Replicas.Any(n => n.Id == r.NodeId && n.Replication is { MasterLinkUp: true }) != true)
        {
            return $"the restarted node is not yet a synced replica of group {r.GroupId}";
        }

        return "";
    }

    private sealed record AwaitedChange(int GroupId, string OldMasterId, TaskCompletionSource<(TopologyEvent Event, long At)> Done);
}
