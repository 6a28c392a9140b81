namespace ClusterGate.FailoverDrill;

internal sealed record DrillOptions
{
    public required string Target { get; init; }
    public required string LabNode { get; init; }
    public int Clients { get; init; } = 20;
    public int Rate { get; init; } = 2000;
    public int Crashes { get; init; } = 1;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(15);
    public TimeSpan CrashAfter { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan OpTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan SettleTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public string? Master { get; init; }
    public bool Restart { get; init; } = true;
    public string? LabScript { get; init; }
    public bool Json { get; init; }
}
