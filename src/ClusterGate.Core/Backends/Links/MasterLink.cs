using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Resp;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Backends.Links;

/// <summary>
/// A client's own connection to its shard group's current master, that follows the master: it connects (waiting
/// up to the hold time while the group has none), detects the loss of the connection, answers the writes that were
/// in flight "outcome unknown" and sends read-only ones again, moves to a new master once the old one's replies are
/// in, and replays the connection state (AUTH, HELLO, SELECT, CLIENT SETNAME, READONLY, subscriptions) before
/// anything else. A shard-port session is one client loop plus one link; the router's pinned and dedicated
/// connections are links too.
/// </summary>
/// <remarks>
/// Two sides. The client loop (the producer) records each command as a <see cref="PendingCommand"/> and writes it,
/// holding the send lock (<see cref="LockAsync"/>); at most <see cref="MasterLinkOptions.MaxInFlight"/> commands are
/// out (credits). The pump (<see cref="PumpAsync"/>, the consumer) is the only writer to the client: it matches reply
/// frames to the commands in order and owns failover, taking the send lock while it moves or recovers.
/// </remarks>
internal sealed partial class MasterLink : IAsyncDisposable
{
    private readonly int _groupId;
    private readonly Observability.GroupStats? _groupStats;
    private readonly long _sessionId;
    private readonly IMasterDirectory _masters;
    private readonly IBackendConnector _connector;
    private readonly MasterLinkOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly int _maxInFlight;
    private readonly PendingQueue _pending = new();
    private readonly RequestArena _arena = new();
    private readonly ConnectionState _state = new();
    private readonly CancellationTokenSource _aborted = new();
    private BackendConnection? _backend;
    private RespScanState _replyScan;
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource? _creditWaiter;
    private int _inFlight;
    private int _connections;

    /// <summary>Credits the pump freed and has not yet given back (one atomic per batch, not per reply).</summary>
    private PaddedInt64 _freedCredits;
    private volatile bool _clientDone;
    private volatile bool _stopping;
    private volatile bool _moveRequested;
    private bool _quitReplied;

    // Pump: a timed command answered in the batch being written, until the flush records it.
    private long _sampleReadAt;
    private long _sampleSentAt;
    private long _sampleRepliedAt;

    public MasterLink(int groupId, long sessionId, IMasterDirectory masters, IBackendConnector connector, MasterLinkOptions options, ILogger logger, TimeProvider time)
    {
        _groupId = groupId;
        _sessionId = sessionId;
        _masters = masters;
        _connector = connector;
        _options = options;
        _logger = logger;
        _time = time;
        _maxInFlight = options.MaxInFlight;
        _groupStats = options.Stats?.Group(groupId);
    }

    /// <summary>Backend connections opened so far: a new one means the previous one's state beyond what is replayed (WATCH) is gone.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>The node the link is connected to now, or null.</summary>
    public string? NodeId => Volatile.Read(ref _backend)?.NodeId;

    /// <summary>The connection state recorded from successful replies (what is replayed on the next master).</summary>
    public ConnectionState State => _state;

    /// <summary>Cancelled when the link is aborted: waits of the client loop end with it.</summary>
    public CancellationToken Aborted => _aborted.Token;

    /// <summary>QUIT was answered: the pump has ended the conversation.</summary>
    public bool QuitReplied => _quitReplied;

    /// <summary>Nothing more will be sent: the pump ends once every pending reply is out.</summary>
    public bool ClientDone
    {
        get => _clientDone;
        set
        {
            _clientDone = value;
            Wake();
        }
    }

    /// <summary>The gateway is stopping: no new master is waited for.</summary>
    public void BeginShutdown()
    {
        _stopping = true;
        Wake();
    }

    /// <summary>The group's master changed: move to it once in-flight replies are in.</summary>
    public void RequestMove()
    {
        _moveRequested = true;
        Wake();
    }

    /// <summary>Ends everything now: waits are cancelled and the backend connection is closed (Redis drops what it ran for us).</summary>
    public void Abort()
    {
        _clientDone = true;
        try
        {
            _aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        Volatile.Read(ref _backend)?.Abort();
        Wake();
    }

    // ---------------------------------------------------------------- the client loop's side (under the send lock)

    /// <summary>Takes the send lock: only its holder writes commands, and the pump takes it to move or recover.</summary>
    public Task LockAsync() => _sendLock.WaitAsync(_aborted.Token);

    public void Unlock() => _sendLock.Release();

    /// <summary>The backend connection to write to, or null while the group has no reachable master.</summary>
    public BackendConnection? Backend => Volatile.Read(ref _backend);

    /// <summary>Under the send lock: connects to the group's master when there is no connection (bounded by the hold time).</summary>
    public async Task EnsureConnectedLockedAsync()
    {
        if (Volatile.Read(ref _backend) is null && !_clientDone)
        {
            await AcquireBackendLockedAsync();
        }
    }

    /// <summary>
    /// Commands that may still be sent now. Only the client loop adds to the count and the pump only subtracts, so the
    /// room seen here can only grow while the caller uses it.
    /// </summary>
    public int Room => _maxInFlight - Volatile.Read(ref _inFlight);

    /// <summary>Records that <paramref name="credits"/> commands were sent (one atomic per batch).</summary>
    public void TakeCredits(int credits)
    {
        if (credits != 0)
        {
            Interlocked.Add(ref _inFlight, credits);
        }
    }

    /// <summary>Waits until fewer than the most commands in flight are out (backpressure on a client that does not read).</summary>
    public async ValueTask WaitForCreditAsync()
    {
        while (Volatile.Read(ref _inFlight) >= _maxInFlight)
        {
            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

            // Publish, then look at the count again; the pump frees credits, then looks for a waiter. A plain (release)
            // store may pass the load after it, and then each side could miss the other's write: a wait nobody ends.
            // The exchange is a full fence, as the pump's Interlocked.Add is, so one side always sees the other.
            Interlocked.Exchange(ref _creditWaiter, waiter);
            if (Volatile.Read(ref _inFlight) < _maxInFlight)
            {
                return;
            }

            await waiter.Task.WaitAsync(_aborted.Token);
        }
    }

    /// <summary>Records a sent command in the reply order.</summary>
    public void Enqueue(in PendingCommand command) => _pending.Enqueue(command);

    /// <summary>A reply the gateway writes itself, in the command's place in the order.</summary>
    public void EnqueueLocal(byte[] reply)
    {
        _pending.Enqueue(PendingCommand.Local(reply));
    }

    /// <summary>The "no master" reply of this link's group.</summary>
    public byte[] NoMaster() => GatewayReplies.NoMaster(
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"shard group {_groupId}"), _options.HoldTimeout);

    /// <summary>Keeps a copy of a command that may be needed again (a resend, state replay).</summary>
    public void Keep(ref PendingCommand pending, ReadOnlySpan<byte> frame)
    {
        if (_arena.TryAdd(frame, out var buffer, out var offset, out var end))
        {
            pending.Bytes = buffer;
            pending.Offset = offset;
            pending.ArenaEnd = end;
        }
        else
        {
            pending.Bytes = ArrayPool<byte>.Shared.Rent(frame.Length);
            frame.CopyTo(pending.Bytes);
            pending.Flags |= PendingFlags.Pooled;
        }

        pending.Length = frame.Length;
    }

    public void KeepSequence(ref PendingCommand pending, in ReadOnlySequence<byte> frame)
    {
        var length = checked((int)frame.Length);
        if (length <= 4096)
        {
            Span<byte> copy = stackalloc byte[length];
            frame.CopyTo(copy);
            Keep(ref pending, copy);
            return;
        }

        pending.Bytes = ArrayPool<byte>.Shared.Rent(length);
        frame.CopyTo(pending.Bytes);
        pending.Length = length;
        pending.Flags |= PendingFlags.Pooled;
    }

    /// <summary>Wakes the pump (local replies to write, a move to make, the client done).</summary>
    public void Wake()
    {
        // The caller has just stored what the pump is to see (a flag, a queued reply). Read before that store is
        // visible, _wake could still be the source the pump already used while the pump, having swapped in a new one
        // (a full fence), reads the old flag and sleeps: the same store-then-load race as the credit wait.
        Interlocked.MemoryBarrier();
        Volatile.Read(ref _wake).TrySetResult();
        Volatile.Read(ref _backend)?.Input.CancelPendingRead();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _backend, null) is { } backend)
        {
            await backend.DisposeAsync();
        }

        while (_pending.TryDequeue(out var p))
        {
            ReturnBytes(in p);
        }

        _aborted.Dispose();
        _sendLock.Dispose();
    }
}
