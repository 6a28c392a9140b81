using System.Buffers;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Backends.Shared;

namespace ClusterGate.Core.Routing.Dispatch;

/// <summary>
/// A command on its way to a master. It owns a pooled copy of its bytes, taken when it is sent, so it
/// can be sent again when Redis proves it did not run (MOVED, ASK, TRYAGAIN, CLUSTERDOWN...) or, for
/// read-only commands, when the connection died with it in flight.
/// </summary>
internal sealed class RoutedCommand : SharedRequest
{
    private byte[]? _buffer;

    public RoutedCommand(ReadOnlySequence<byte> command, int slot, bool readOnly, long sessionId, IReplySink sink)
        : this(Copy(command), checked((int)command.Length), slot, readOnly, sessionId, sink)
    {
    }

    public RoutedCommand(ReadOnlySpan<byte> command, int slot, bool readOnly, long sessionId, IReplySink sink)
        : this(Copy(command), command.Length, slot, readOnly, sessionId, sink)
    {
    }

    private RoutedCommand(byte[] buffer, int length, int slot, bool readOnly, long sessionId, IReplySink sink)
    {
        _buffer = buffer;
        Length = length;
        Slot = slot;
        ReadOnly = readOnly;
        SessionId = sessionId;
        Sink = sink;
    }

    public override ReadOnlyMemory<byte> Bytes => _buffer.AsMemory(0, Length);

    public override bool Timed => Sink.ReadAt != 0;

    /// <summary>Counted once in the held commands, however many snapshots it waits through.</summary>
    public bool WasHeld { get; set; }

    public int Length { get; private set; }

    /// <summary>The hash slot, or -1 for a command sent to a chosen node (keyless, fan-out).</summary>
    public int Slot { get; }

    public bool ReadOnly { get; }

    public long SessionId { get; }

    public IReplySink Sink { get; }

    /// <summary>A node chosen for this command regardless of the slot table (MOVED target, fan-out).</summary>
    public string? TargetNodeId { get; set; }

    /// <summary>
    /// The shard group of <see cref="TargetNodeId"/> when the command was made (fan-out parts): when that
    /// node has left the topology (a crashed master is in no group until it rejoins), the group's current
    /// master takes its place.
    /// </summary>
    public int? TargetGroupId { get; set; }

    /// <summary>
    /// <see cref="TargetNodeId"/> may be a replica (commands for every node: CONFIG SET, SCRIPT LOAD...);
    /// otherwise a keyless command named to a replica goes to its group's master.
    /// </summary>
    public bool AnyRole { get; init; }

    public int Redirects { get; set; }

    public int TryAgains { get; set; }

    /// <summary>Until when the command may wait for a master (set when it first has to wait).</summary>
    public DateTimeOffset? HoldUntil { get; set; }

    /// <summary>The last error that made it wait, returned if the hold time runs out.</summary>
    public byte[]? LastError { get; set; }

    /// <summary>
    /// For an EVALSHA whose script body the gateway has seen: <c>SCRIPT LOAD body</c>, sent before it again when the
    /// master answers <c>-NOSCRIPT</c> (see <see cref="PrependScriptLoad"/>).
    /// </summary>
    public byte[]? ScriptLoad { get; set; }

    /// <summary>
    /// Puts <see cref="ScriptLoad"/> before the command, as one batch of two whose last reply is the command's, and
    /// forgets it (a second NOSCRIPT reaches the client).
    /// </summary>
    public void PrependScriptLoad()
    {
        var load = ScriptLoad ?? throw new InvalidOperationException("no script to load");
        var buffer = PooledBytes.Take(load.Length + Length);
        load.CopyTo(buffer, 0);
        Bytes.Span.CopyTo(buffer.AsSpan(load.Length));
        Release();
        _buffer = buffer;
        Length += load.Length;
        Replies++;
        ScriptLoad = null;
    }

    private static byte[] Copy(in ReadOnlySequence<byte> command)
    {
        var buffer = PooledBytes.Take(checked((int)command.Length));
        command.CopyTo(buffer);
        return buffer;
    }

    private static byte[] Copy(ReadOnlySpan<byte> command)
    {
        var buffer = PooledBytes.Take(command.Length);
        command.CopyTo(buffer);
        return buffer;
    }

    public void Release()
    {
        if (_buffer is not null)
        {
            PooledBytes.Give(_buffer);
            _buffer = null;
        }
    }
}
