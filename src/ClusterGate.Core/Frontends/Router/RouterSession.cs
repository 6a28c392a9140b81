using System.Buffers;
using System.IO.Pipelines;
using ClusterGate.Core.Backends.Shared;
using ClusterGate.Core.Resp;
using Microsoft.AspNetCore.Connections;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>
/// One client on the router port. The read loop parses commands and hands each to
/// <see cref="RouterCommands"/>, which answers it, routes it or splits it; every command gets a
/// <see cref="ReplySlot"/> in arrival order. Replies fill their slots out of order (different masters
/// answer at different times); the writer loop writes them strictly in order, one flush per batch.
/// </summary>
internal sealed partial class RouterSession : IClientSession, IBatchFlush, IDisposable
{
    // At most this much stays unflushed while the rest of a client's pipeline is on its way.
    private const int LingerMaxReplies = 256;
    private const long LingerMaxBytes = 32 * 1024;

    private readonly ConnectionContext _client;
    private readonly RouterContext _context;
    private readonly Queue<ReplySlot> _replies = new();
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly AsyncSignal _credit = new();
    private readonly RespRequest _request = new();

    // The batch of the read loop: commands of one read go to the backends, and the gateway's own replies to the
    // client, with one flush each at its end.
    private readonly ReplyBatch _readBatch = new();
    private readonly CancellationTokenSource _aborted = new();
    private int _outstanding;

    // Slots created and not yet answered, and who waits for that to reach zero (QuietAsync).
    private int _slotsPending;
    private TaskCompletionSource? _quiet;

    // Read loop only: what the next command waits for (a blocking command's reply, the replies before a mode switch).
    private Task? _barrier;

    // Bytes of replies copied into slots and not yet written to the client (under _gate), and since when they
    // have been above the soft limit (a TimeProvider timestamp, 0 when below).
    private long _buffered;

    /// <summary>Reads left until one is timed (its first command), when the host records latency.</summary>
    private int _sampleCountdown = Observability.CommandTimings.SampleEvery;

    /// <summary>When the read being processed is timed, when it arrived; 0 once its first command took it.</summary>
    private long _sampleReadAt;
    private long _pendingFlushBytes;
    private long _overSoftSince;
    private bool _cutOff;

    // Owned by the current writer (the one that set _writing): replies written but not yet flushed.
    private int _unflushed;
    private bool _closeAfterFlush;
    private int _lingering;
    private volatile bool _flushSoon;
    private bool _writing;
    private bool _writeAgain;
    private bool _closed;
    private volatile bool _readDone;
    private volatile bool _stopping;

    /// <summary>The client closed or reset its connection (not QUIT, not a protocol error, not a shutdown).</summary>
    private volatile bool _clientGone;

    public RouterSession(ConnectionContext client, RouterContext context, long id)
    {
        _client = client;
        _context = context;
        Id = id;
        ConnectedAt = context.TimeProvider.GetUtcNow();
        Authenticated = context.Options.Password is null;
    }

    /// <summary>
    /// The client may run commands: the gateway has no password, or the client authenticated (AUTH, HELLO AUTH) with
    /// its credentials. Until then every command but the <c>no_auth</c> ones is answered <c>NOAUTH</c> (<see cref="ClientAuth"/>).
    /// </summary>
    public bool Authenticated { get; set; }

    /// <summary>The class of the command being handled, set before its reply slot is taken (<see cref="NewSlot"/> counts it there).</summary>
    public Observability.CommandClass CommandClass { get; set; } = Observability.CommandClass.Other;

    public long Id { get; }

    public RouterContext Context => _context;

    /// <summary>Nothing more is written to the client (it left, or the session ended).</summary>
    public bool IsClosed
    {
        get
        {
            lock (_gate)
            {
                return _closed;
            }
        }
    }

    /// <summary>Read loop only: the next command waits for <paramref name="barrier"/> (and is parsed again then).</summary>
    public void WaitBeforeNext(Task barrier) => _barrier = barrier;

    /// <summary>The client's name from CLIENT SETNAME (answered by the gateway).</summary>
    public string? ClientName { get; set; }

    public string RemoteEndPoint => _client.RemoteEndPoint?.ToString() ?? "?";

    public DateTimeOffset ConnectedAt { get; }

    public void BeginShutdown()
    {
        _stopping = true;
        _client.Transport.Input.CancelPendingRead();
    }

    public void Abort()
    {
        try
        {
            _aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        _client.Abort(new ConnectionAbortedException("the gateway is shutting down"));
    }

    public async Task RunAsync()
    {
        try
        {
            await ReadLoopAsync();
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException)
        {
            _clientGone = !_stopping;
        }
        finally
        {
            _readDone = true;
            if (_clientGone)
            {
                // The client left: what is still on its way has nobody to go to.
                Finish();
            }
            else
            {
                TryWrite(null);
            }
        }

        try
        {
            // Replies still in flight go out before the connection closes: on shutdown until the drain ends
            // (then Abort), after QUIT or a protocol error for at most the drain time.
            var drained = _drained.Task.WaitAsync(_aborted.Token);
            if (!_stopping)
            {
                drained = drained.WaitAsync(_context.Options.DrainTimeout, _context.TimeProvider);
            }

            await drained;
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
        {
        }
        finally
        {
            lock (_gate)
            {
                while (_replies.TryDequeue(out var slot))
                {
                    // Late replies of a gone client still return their buffers when they land.
                    if (slot.IsDone)
                    {
                        slot.Return();
                    }
                }
            }

            // Blocked commands, watches and subscriptions end with the client (Redis drops a blocked command whose
            // connection closes, so it never pops for a client that is gone).
            await EndLinksAsync();
            await _client.Transport.Output.CompleteAsync();
            await _client.Transport.Input.CompleteAsync();
            Dispose();
        }
    }

    /// <summary>
    /// Read loop only: a command was written to <paramref name="connection"/> (null when it waits or was answered);
    /// it is flushed once at the end of the read's batch.
    /// </summary>
    public void Sent(SharedConnection? connection)
    {
        if (connection is not null)
        {
            _readBatch.DeferConnection(connection);
        }
    }

    /// <summary>Read loop only: the gateway's own reply for <paramref name="slot"/>, flushed at the end of the read's batch.</summary>
    public void Answer(ReplySlot slot, byte[] reply) => slot.SetReply(reply, _readBatch);

    private async Task ReadLoopAsync()
    {
        var input = _client.Transport.Input;
        while (true)
        {
            ReadResult result;
            if (_barrier is { IsCompleted: false } barrier)
            {
                // A command waits (a blocking command's reply, the replies before a mode switch): keep reading
                // meanwhile, so a client that leaves is seen at once (its blocked command must end with it).
                var read = input.ReadAsync().AsTask();
                if (await Task.WhenAny(read, barrier) != read)
                {
                    input.CancelPendingRead();
                }

                result = await read;
            }
            else
            {
                result = await input.ReadAsync();
            }

            var buffer = result.Buffer;
            var consumed = buffer.Start;
            var stop = false;
            // One read in SampleEvery is timed, through its first command (none left from an earlier read).
            _sampleReadAt = _context.Stats.SampleRead(ref _sampleCountdown);

            try
            {
                if (_stopping)
                {
                    return;
                }

                // Backpressure: a client that does not read its replies stops having its commands read.
                while (ProcessBatch(buffer, ref consumed, out stop))
                {
                    if (_barrier is { IsCompleted: false })
                    {
                        break;
                    }

                    await _credit.WaitAsync(_aborted.Token);
                }

                if (stop)
                {
                    return;
                }

                if (result.IsCompleted)
                {
                    // End of stream: the client closed its side and reads nothing more.
                    _clientGone = !_stopping;
                    return;
                }
            }
            finally
            {
                _context.Stats.BytesIn.Add(buffer.Slice(buffer.Start, consumed).Length);
                input.AdvanceTo(consumed, buffer.End);
            }
        }
    }

    /// <summary>
    /// Handles the complete commands in the buffer as one batch: backend connections written to are
    /// flushed once, and the gateway's own replies go out in one flush, at its end. True when it stopped
    /// because too many replies are outstanding or a command waits for a barrier (wait, then call again).
    /// </summary>
    private bool ProcessBatch(in ReadOnlySequence<byte> buffer, ref SequencePosition consumed, out bool stop)
    {
        stop = false;
        var max = _context.Options.MaxPendingPerSession;
        try
        {
            while (!stop)
            {
                if (Volatile.Read(ref _outstanding) >= max)
                {
                    return true;
                }

                if (!TryProcessOne(buffer, ref consumed, out stop))
                {
                    // No complete command left, or the next one waits for the barrier.
                    return _barrier is { IsCompleted: false } && !stop;
                }
            }

            return false;
        }
        finally
        {
            _readBatch.End();
        }
    }

    /// <summary>Parses and handles one command. False when no complete command is left.</summary>
    private bool TryProcessOne(in ReadOnlySequence<byte> buffer, ref SequencePosition consumed, out bool stop)
    {
        stop = false;
        var rest = buffer.Slice(consumed);
        if (!_request.InProgress && !InSpecialMode && Authenticated)
        {
            var span = rest.FirstSpan;
            if (RespRequestHead.TryScan(span, _context.Limits, out var length, out var count, out var nameOffset, out var nameLength, out var keyOffset, out var keyLength)
                && keyLength >= 0
                && RouterCommands.TryRouteSingleKey(this, span[..length], span.Slice(nameOffset, nameLength), span.Slice(keyOffset, keyLength), count))
            {
                consumed = rest.GetPosition(length);
                return true;
            }
        }

        var reader = new SequenceReader<byte>(rest);
        var status = RespRequestParser.TryParse(ref reader, _context.Limits, _request, out var error);
        if (status == RespScanStatus.Incomplete)
        {
            return false;
        }

        if (status == RespScanStatus.Error)
        {
            if (_context.ProtocolErrors.TryAcquire(out var suppressed))
            {
                RouterLog.ProtocolError(_context.Logger, Id, RemoteEndPoint, error ?? "?", suppressed);
            }

            CommandClass = Observability.CommandClass.Other;
            var slot = NewSlot();
            slot.CloseAfter = true;
            Answer(slot, GatewayReplies.ProtocolError(error ?? "Protocol error"));
            stop = true;
            return false;
        }

        if (_request.Count == 0)
        {
            consumed = reader.Position;
            return true;
        }

        if (_barrier is { IsCompleted: false })
        {
            // The previous command (a blocking one) is still running: this one waits, as Redis makes it wait.
            return false;
        }

        var outcome = RouterCommands.Execute(this, _request);
        if (outcome == CommandOutcome.Retry)
        {
            // Not run: it waits for the barrier, then this request is parsed again.
            return false;
        }

        consumed = reader.Position;
        stop = outcome == CommandOutcome.Stop;
        return !stop;
    }

    public void Dispose()
    {
        _request.Dispose();
        _aborted.Dispose();
    }
}
