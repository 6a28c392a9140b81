using ClusterGate.Hostile.Run;

namespace ClusterGate.Hostile.Probes;

/// <summary>One kind of hostile input. A probe opens its own connections and closes them all before it returns.</summary>
internal interface IProbe
{
    string Name { get; }

    /// <summary>One line for --help and the README.</summary>
    string Summary { get; }

    /// <summary>Waits of the probe that --probe-timeout does not cover (the burst probe's quiet wait and --settle-burst).</summary>
    TimeSpan PlannedWaits(HostileOptions options) => TimeSpan.Zero;

    Task<ProbeOutcome> RunAsync(ProbeContext context, CancellationToken ct);
}

/// <summary>What a probe itself found: the target's reply (the table's reply column) and lines for under the table.</summary>
internal sealed class ProbeOutcome
{
    public required string Reply { get; init; }

    /// <summary>Set when the probe did not run, with the reason.</summary>
    public string? Skipped { get; init; }

    public List<string> Details { get; init; } = [];

    /// <summary>The burst probe's memory readings, for --json.</summary>
    public BurstMemory? Burst { get; init; }

    public static ProbeOutcome Skip(string reason) => new() { Reply = "skipped: " + reason, Skipped = reason };
}
