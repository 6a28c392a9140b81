namespace ClusterGate.Core.Frontends;

/// <summary>Replies both frontends write themselves, worded as Redis words them where Redis has the situation.</summary>
internal static class GatewayReplies
{
    /// <summary>Redis's own text past <c>maxclients</c>.</summary>
    public static readonly byte[] MaxClientsReached = "-ERR max number of clients reached\r\n"u8.ToArray();
}
