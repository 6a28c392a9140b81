namespace ClusterGate.Core.Backends.Shared;

/// <summary>A command on a shared connection: its bytes, and whether <c>ASKING</c> goes right before it.</summary>
internal abstract class SharedRequest
{
    public abstract ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>Send <c>ASKING</c> right before the command (an ASK redirect).</summary>
    public bool Asking { get; set; }

    /// <summary>
    /// Frames Redis answers to <see cref="Bytes"/>: more than one for a batch such as MULTI ... EXEC, whose last frame
    /// is the reply handed back (the others are dropped).
    /// </summary>
    public int Replies { get; set; } = 1;

    /// <summary>The RESP version the reply must be in: the connection speaks it (HELLO 3 at connect).</summary>
    public int Protocol { get; set; } = 2;

    /// <summary>Timed for the latency metrics: <see cref="SentAt"/> is taken when it is written to a connection.</summary>
    public virtual bool Timed => false;

    /// <summary>When a timed request was last written to a connection (<see cref="System.Diagnostics.Stopwatch"/> timestamp).</summary>
    public long SentAt { get; set; }

    /// <summary>The group of the connection a timed request was last written to (its latency is counted there too).</summary>
    public Observability.GroupStats? SentTo { get; set; }
}

/// <summary>Who a shared connection reports to: replies in order, its loss, a failed connect.</summary>
internal interface ISharedConnectionOwner
{
    TimeProvider Time { get; }

    /// <summary>A reply frame for <paramref name="request"/>, on the connection's reader. Must not block.</summary>
    void OnReply(SharedConnection connection, SharedRequest request, in System.Buffers.ReadOnlySequence<byte> frame, ReplyBatch batch);

    /// <summary>The connection died; the owner takes back what was in flight (see <see cref="SharedConnectionPool.RetireAndReplace"/>).</summary>
    void OnConnectionLost(SharedConnection connection, string reason);

    /// <summary>Connecting failed: <paramref name="queued"/> never left the gateway.</summary>
    void OnConnectFailed(SharedConnection connection, List<SharedRequest> queued, string reason);

    /// <summary>Where a new connection to <paramref name="nodeId"/> counts its commands: the node's group now, if it has one.</summary>
    Observability.GroupStats? GroupOf(string nodeId) => null;
}
