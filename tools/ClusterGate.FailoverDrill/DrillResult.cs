namespace ClusterGate.FailoverDrill;

internal sealed record ErrorKind(string Kind, int Count, string Sample, double FirstMs, double LastMs);

internal sealed record TimelineBucket(int StartMs, int Acked, int Failed);

/// <summary>Everything the drill measured. Times ending in Ms are milliseconds; those about the crash are relative to T0 (DEBUG SEGFAULT sent).</summary>
internal sealed class DrillResult
{
    public string Target { get; set; } = "";
    public string LabNode { get; set; } = "";
    public string RunId { get; set; } = "";
    public int Clients { get; set; }
    public int Rate { get; set; }
    public double DurationMs { get; set; }
    public double CrashAfterMs { get; set; }
    public string Master { get; set; } = "";
    public string MasterId { get; set; } = "";
    public List<string> Replicas { get; set; } = [];
    public string Survivor { get; set; } = "";
    public string KeyPattern { get; set; } = "";
    public int Slot { get; set; }
    public List<string> Notes { get; } = [];

    public double? CrashAtMs { get; set; }
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

    public double RunMs { get; set; }
    public int Attempted { get; set; }
    public int Acked { get; set; }
    public int Disconnects { get; set; }
    public int Timeouts { get; set; }
    public int ConnectFailures { get; set; }
    public List<ErrorKind> Errors { get; } = [];
    public List<TimelineBucket> Timeline { get; set; } = [];

    public int Verified { get; set; }
    public int LostMissing { get; set; }
    public int LostWrong { get; set; }
    public List<string> LostSamples { get; } = [];
    public string? VerifyNote { get; set; }

    public string RestartMethod { get; set; } = "";
    public bool Restarted { get; set; }
    public string? RestartNote { get; set; }
}
