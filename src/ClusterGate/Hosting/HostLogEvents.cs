namespace ClusterGate.Hosting;

/// <summary>
/// Log event ids of the executable (900-999), next to the engine's block allocation in
/// <c>ClusterGate.Core.Observability.LogEvents</c>, which is internal to the engine.
/// </summary>
internal static class HostLogEvents
{
    public const int GatewayStarting = 900;
    public const int ShardPortBound = 901;
    public const int ShardPortsListening = 902;
    public const int AdminListening = 903;
    public const int Stopping = 904;
    public const int Stopped = 905;
    public const int DrainIncomplete = 906;
    public const int WildcardAnnounce = 907;
    public const int MemoryReclaimed = 908;
}
