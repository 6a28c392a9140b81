namespace ClusterGate.FailoverDrill;

internal sealed record ErrorKind(string Kind, int Count, string Sample, double FirstMs, double LastMs);

internal sealed record TimelineBucket(int StartMs, int Acked, int Failed);

/// <summary>
/// Everything the drill measured. Times ending in Ms are milliseconds; <see cref="CrashResult"/> times about
/// its crash are relative to that crash's T0 (DEBUG SEGFAULT sent), other times to the start of the writers.
/// </summary>
internal sealed class DrillResult
{
    public string Target { get; set; } = "";
    public string LabNode { get; set; } = "";
    public string RunId { get; set; } = "";
    public int Clients { get; set; }
    public int Rate { get; set; }
    public double DurationMs { get; set; }
    public double CrashAfterMs { get; set; }
    public int CrashesRequested { get; set; }
    public string Master { get; set; } = "";
    public string MasterId { get; set; } = "";
    public List<string> Replicas { get; set; } = [];
    public string Survivor { get; set; } = "";
    public string KeyPattern { get; set; } = "";
    public int Slot { get; set; }
    public string RestartMethod { get; set; } = "";
    public List<string> Notes { get; } = [];

    public List<CrashResult> Crashes { get; } = [];

    public double RunMs { get; set; }
    public int Attempted { get; set; }
    public int Acked { get; set; }
    public int Disconnects { get; set; }
    public int Timeouts { get; set; }
    public int ConnectFailures { get; set; }
    public List<ErrorKind> Errors { get; } = [];
    public List<TimelineBucket> Timeline { get; set; } = [];

    /// <summary>Over the crashes where writes resumed and the promotion was seen.</summary>
    public double? MaxPromotionToFirstWriteMs { get; set; }
    public double? MedianPromotionToFirstWriteMs { get; set; }
    public double? MaxFirstWriteAfterCrashMs { get; set; }
    public double? MedianFirstWriteAfterCrashMs { get; set; }

    public string? FinalMaster { get; set; }
    public int Verified { get; set; }
    public int LostMissing { get; set; }
    public int LostWrong { get; set; }
    public List<string> LostSamples { get; } = [];
    public string? VerifyNote { get; set; }
}

/// <summary>One crash: the master behind the target at that moment, what the cluster did, what the writers saw.</summary>
internal sealed class CrashResult
{
    public int Index { get; set; }
    public string Crashed { get; set; } = "";
    public string CrashedId { get; set; } = "";

    /// <summary>This crash's part of the run, from the start of the writers: its writes and failures are counted here.</summary>
    public double CycleStartMs { get; set; }
    public double CycleEndMs { get; set; }
    public double CrashAtMs { get; set; }

    /// <summary>T0 on the wall clock (local time), to line the crash up with other logs.</summary>
    public string CrashAtClock { get; set; } = "";

    public double? CrashConfirmedMs { get; set; }
    public double? FailFlagMs { get; set; }
    public double? PromotionMs { get; set; }
    public string? NewMaster { get; set; }
    public int Polls { get; set; }
    public double? LastAckBeforeCrashMs { get; set; }
    public double? FirstFailureAfterCrashMs { get; set; }
    public double? FirstWriteAfterCrashMs { get; set; }
    public double? PromotionToFirstWriteMs { get; set; }
    public double? FirstAckCompletedAfterPromotionMs { get; set; }

    public int Attempted { get; set; }
    public int Acked { get; set; }
    public int Disconnects { get; set; }
    public int Timeouts { get; set; }
    public int ConnectFailures { get; set; }
    public List<ErrorKind> Errors { get; } = [];

    /// <summary>Acknowledged in this crash's part of the run but missing or wrong on the final master.</summary>
    public int Lost { get; set; }

    /// <summary>When the lost writes of this cycle were acknowledged, from T0 (negative: before the crash).</summary>
    public double? LostAckedFromMs { get; set; }
    public double? LostAckedToMs { get; set; }

    public bool Restarted { get; set; }

    /// <summary>From T0 until the restarted node was a replica with its link up, known as such by a survivor, cluster OK.</summary>
    public double? RejoinedMs { get; set; }
    public string? RestartNote { get; set; }
    public string? Note { get; set; }
}
