namespace ClusterGate.Hostile.Run;

/// <summary>One probe's row: the target's reply, the good client beside it, the process before/after, alive or not.</summary>
internal sealed class ProbeResult
{
    public string Probe { get; set; } = "";
    public string Reply { get; set; } = "";
    public string? Skipped { get; set; }
    public List<string> Details { get; set; } = [];
    public double ElapsedMs { get; set; }

    public int GoodCommands { get; set; }
    public int GoodErrors { get; set; }
    public double? GoodMaxMs { get; set; }
    public string? GoodFirstError { get; set; }

    public double? RssBeforeMb { get; set; }
    public double? RssAfterMb { get; set; }
    public double? RssPeakMb { get; set; }
    public int? FdsBefore { get; set; }
    public int? FdsAfter { get; set; }
    public int? FdsPeak { get; set; }
    public double SettleMs { get; set; }

    public int? NodeClientsBefore { get; set; }
    public int? NodeClientsAfter { get; set; }

    /// <summary>INFO replication role of --node ("master", "slave"); a change is a failover during the probe.</summary>
    public string? NodeRoleBefore { get; set; }

    public string? NodeRoleAfter { get; set; }

    public bool Alive { get; set; }

    /// <summary>Why not alive (no PING reply, pid gone), or null.</summary>
    public string? AliveNote { get; set; }

    /// <summary>The burst probe's memory readings (null for the other probes).</summary>
    public BurstMemory? Burst { get; set; }
}

/// <summary>
/// The burst probe: the idle RSS before, the peak during the burst, and RSS each 5 s after the last client closed,
/// with the first second at which it was within <see cref="WithinMb"/> of idle.
/// </summary>
internal sealed class BurstMemory
{
    /// <summary>Median of <see cref="IdleSamplesMb"/>.</summary>
    public double IdleMb { get; set; }

    public List<double> IdleSamplesMb { get; set; } = [];

    /// <summary>Seconds waited for the process to be quiet before the idle samples; null: still not quiet at the limit.</summary>
    public double? QuietAfterS { get; set; }

    public double? PeakMb { get; set; }
    public int WithinMb { get; set; }

    /// <summary>Seconds after the last burst client closed at which RSS was first within <see cref="WithinMb"/> of idle; null: not in <see cref="SettleS"/>.</summary>
    public double? ReturnedAfterS { get; set; }

    public double? ReturnedRssMb { get; set; }
    public double SettleS { get; set; }

    /// <summary>RSS at 0 s (the moment the last burst client closed), then every 5 s until <see cref="SettleS"/>.</summary>
    public List<RssPoint> Series { get; set; } = [];

    public int Connections { get; set; }
    public int ConnectionsOpened { get; set; }
    public int Pongs { get; set; }
    public int ValueSize { get; set; }
    public int Gets { get; set; }
    public int GetsWhole { get; set; }
}

/// <summary>RSS of the process under test so many seconds after the burst.</summary>
internal sealed class RssPoint
{
    public double AtS { get; set; }
    public double RssMb { get; set; }
}

/// <summary>The whole run: what was tested, with which keys, and one row per probe.</summary>
internal sealed class RunResult
{
    public string Target { get; set; } = "";
    public int? Pid { get; set; }
    public string? Node { get; set; }
    public string GoodKey { get; set; } = "";
    public string Tag { get; set; } = "";
    public string StartedAt { get; set; } = "";
    public string DescriptorLimit { get; set; } = "";
    public List<string> Notes { get; set; } = [];
    public List<ProbeResult> Probes { get; set; } = [];
}
