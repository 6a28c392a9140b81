namespace ClusterGate.Observability;

/// <summary>
/// One failover as the gateway measured it: the master lost (crash noticed), a new one confirmed (promotion seen, with
/// how long after), and the first waiting connection or held command answered by it (traffic resumed, with how long
/// after the promotion). A phase not reached yet is null; a manual failover has no lost master.
/// </summary>
internal sealed record FailoverRecord(int Group, string? OldMaster, DateTimeOffset? LostAt)
{
    public string? NewMaster { get; set; }

    public DateTimeOffset? PromotedAt { get; set; }

    /// <summary>Master lost until the new one was confirmed.</summary>
    public TimeSpan? Promotion { get; set; }

    /// <summary>New master confirmed until traffic that waited reached it.</summary>
    public TimeSpan? Resumed { get; set; }
}
