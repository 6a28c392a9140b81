namespace ClusterGate.Core.Routing;

/// <summary>Cluster-wide constants of the slot space.</summary>
public static class HashSlotTable
{
    public const int SlotCount = 16384;
}
