using ClusterGate.Core.Backends;
using ClusterGate.Core.Topology;

namespace ClusterGate.FailoverLag;

internal sealed record LagOptions
{
    /// <summary>Any node of the lab cluster: the monitor's seed and the way in for control commands.</summary>
    public required NodeEndpoint LabNode { get; init; }

    public int Rounds { get; init; } = 3;

    /// <summary>How often a surviving master's CLUSTER NODES is read to timestamp the promotion.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(5);

    /// <summary>The monitor's fast poll period (its product default unless changed here).</summary>
    public TimeSpan FastPollInterval { get; init; } = new TopologyMonitorOptions().FastPollInterval;

    /// <summary>Bound for every wait: promotion, event, restart, convergence.</summary>
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public string? LabScript { get; init; }
}

/// <summary>One crash: when the promotion became visible on a survivor and when the monitor said so.</summary>
internal sealed record LagRound(int Round, int GroupId, NodeEndpoint Crashed, NodeEndpoint Promoted, TimeSpan CrashToVisible, TimeSpan Lag, int Polls);

/// <summary>A step did not finish within its bound; the message says which.</summary>
internal sealed class LagStepException(string message) : Exception(message);
