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
