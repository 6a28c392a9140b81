namespace ClusterGate.Core.Backends;

/// <summary>A node's network address: as the cluster announces it, or as the gateway reaches it after the address map.</summary>
public readonly record struct NodeEndpoint(string Host, int Port)
{
    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
