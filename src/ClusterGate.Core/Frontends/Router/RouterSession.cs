using System.Buffers;
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
internal sealed class RouterSession : IClientSession, IBatchFlush, IDisposable
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

    // Bytes of replies copied into slots and not yet written to the client (under _gate), and since when they
    // have been above the soft limit (a TimeProvider timestamp, 0 when below).
    private long _buffered;
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
    }

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

            await _client.Transport.Output.CompleteAsync();
            await _client.Transport.Input.CompleteAsync();
            Dispose();
        }
    }

    /// <summary>A slot for the next reply in the client's order.</summary>
    public ReplySlot NewSlot()
    {
        var slot = new ReplySlot(this);
        lock (_gate)
        {
            _replies.Enqueue(slot);
        }

        Interlocked.Increment(ref _outstanding);
        return slot;
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

    /// <summary>
    /// Writes <paramref name="reply"/> for <paramref name="slot"/> without copying it first, when the slot
    /// is next in the client's order and no other thread is writing; false otherwise (the caller keeps
    /// a copy in the slot for the writer).
    /// </summary>
    public bool TryWriteNow(ReplySlot slot, in ReadOnlySequence<byte> reply, ReplyBatch? batch)
    {
        lock (_gate)
        {
            if (_writing || _closed || !_replies.TryPeek(out var head) || !ReferenceEquals(head, slot))
            {
                return false;
            }

            _replies.Dequeue();
            _writing = true;
        }

        var output = _client.Transport.Output;
        if (reply.IsSingleSegment)
        {
            output.Write(reply.FirstSpan);
        }
        else
        {
            foreach (var segment in reply)
            {
                output.Write(segment.Span);
            }
        }

        _unflushed++;
        WriteReady(batch is not null ? FlushMode.Defer : FlushMode.Now, batch);
        return true;
    }

    /// <summary>
    /// A reply was copied into its slot to wait for its turn. A client that does not read makes these pile up:
    /// past the output limit it is disconnected, so it cannot grow the gateway or slow the shared connections.
    /// </summary>
    public void OnReplyBuffered(int length)
    {
        var limit = _context.Options.ClientOutputLimit;
        long buffered;
        var cut = false;
        lock (_gate)
        {
            _buffered += length;
            buffered = _buffered;
            if (_closed || _cutOff)
            {
                return;
            }

            if (limit.Soft > 0 && buffered > limit.Soft)
            {
                var now = _context.TimeProvider.GetTimestamp();
                if (_overSoftSince == 0)
                {
                    _overSoftSince = now;
                }
                else if (_context.TimeProvider.GetElapsedTime(_overSoftSince, now) > limit.SoftDuration)
                {
                    cut = true;
                }
            }
            else
            {
                _overSoftSince = 0;
            }

            cut |= limit.Hard > 0 && buffered > limit.Hard;
            _cutOff = cut;
        }

        if (cut)
        {
            RouterLog.ClientOutputLimit(_context.Logger, Id, RemoteEndPoint, buffered, limit.ToString());
            Finish();
            _client.Abort(new ConnectionAbortedException("client output buffer limit reached"));
        }
    }

    public void OnReplyReady(ReplySlot slot, ReplyBatch? batch)
    {
        bool head;
        lock (_gate)
        {
            head = _replies.TryPeek(out var first) && ReferenceEquals(first, slot);
        }

        if (head)
        {
            TryWrite(batch);
        }
    }

    /// <summary>The batch this writer deferred to has ended: flush, or linger while the rest of the pipeline is on its way.</summary>
    public void FlushAtBatchEnd()
    {
        try
        {
            WriteReady(FlushMode.Linger, null);
        }
        catch (InvalidOperationException)
        {
            // The client's output was completed under the writer (the session is closing).
            Finish();
        }
    }

    /// <summary>
    /// Writes every reply that is ready at the head of the order, on the calling thread (a backend
    /// reader, or the read loop for the gateway's own replies). One writer at a time: a caller that
    /// finds another writing leaves it a note to look again. Inside a reply batch the flush waits for
    /// the batch's end (the writer stays owned until then). A flush that waits on a slow client
    /// continues asynchronously, so a backend reader never waits for one client.
    /// </summary>
    private void TryWrite(ReplyBatch? batch)
    {
        lock (_gate)
        {
            if (_writing)
            {
                _writeAgain = true;
                return;
            }

            _writing = true;
        }

        WriteReady(batch is not null ? FlushMode.Defer : FlushMode.Now, batch);
    }

    /// <summary>Flushes replies left unflushed by <see cref="FlushMode.Linger"/> (the safety-net timer).</summary>
    public void FlushLingering()
    {
        Volatile.Write(ref _lingering, 0);
        _flushSoon = true;
        lock (_gate)
        {
            if (_writing)
            {
                // The writer flushes, or lingers again and registers again.
                _writeAgain = true;
                return;
            }

            _writing = true;
        }

        WriteReady(FlushMode.Now, null);
    }

    private void WriteReady(FlushMode mode, ReplyBatch? batch)
    {
        var output = _client.Transport.Output;
        while (true)
        {
            bool waiting;
            lock (_gate)
            {
                if (!_closed)
                {
                    while (_replies.TryPeek(out var head) && head.IsDone)
                    {
                        _replies.Dequeue();
                        output.Write(head.Reply);
                        _buffered -= head.Length;
                        head.Return();
                        _unflushed++;
                        if (head.CloseAfter)
                        {
                            _closeAfterFlush = _closed = true;
                            break;
                        }
                    }
                }

                waiting = _replies.Count > 0;
            }

            if (_unflushed > 0 && !_closeAfterFlush)
            {
                if (mode == FlushMode.Defer)
                {
                    batch!.DeferWriter(this);
                    return;
                }

                if (mode == FlushMode.Linger && waiting && !_flushSoon && _unflushed < LingerMaxReplies
                    && (!output.CanGetUnflushedBytes || output.UnflushedBytes < LingerMaxBytes))
                {
                    // The rest of the client's pipeline is still on its way (from another master, or later
                    // in this one's reply stream): its reply flushes these too, one send for the pipeline.
                    // Whoever writes next owns _unflushed; the timer covers a next reply that is held.
                    lock (_gate)
                    {
                        if (_writeAgain)
                        {
                            _writeAgain = false;
                            continue;
                        }

                        _writing = false;
                    }

                    if (Interlocked.Exchange(ref _lingering, 1) == 0)
                    {
                        _context.Lingering.Add(this);
                    }

                    return;
                }
            }

            if (_unflushed > 0)
            {
                var written = _unflushed;
                var close = _closeAfterFlush;
                _unflushed = 0;
                _flushSoon = false;
                ValueTask<System.IO.Pipelines.FlushResult> flush;
                try
                {
                    flush = output.FlushAsync();
                }
                catch (InvalidOperationException)
                {
                    Finish();
                    return;
                }

                if (!flush.IsCompleted)
                {
                    _ = CompleteFlushAsync(flush, written, close);
                    return;
                }

                if (!AfterFlush(flush.Result, written, close))
                {
                    return;
                }
            }

            lock (_gate)
            {
                if (!_writeAgain)
                {
                    _writing = false;
                    if (_readDone && _replies.Count == 0)
                    {
                        _drained.TrySetResult();
                    }

                    return;
                }

                _writeAgain = false;
            }
        }
    }

    private async Task CompleteFlushAsync(ValueTask<System.IO.Pipelines.FlushResult> flush, int written, bool close)
    {
        System.IO.Pipelines.FlushResult result;
        try
        {
            result = await WhileNotReadingAsync(flush);
        }
        catch (Exception)
        {
            Finish();
            return;
        }

        if (AfterFlush(result, written, close))
        {
            lock (_gate)
            {
                _writeAgain = false;
            }

            WriteReady(FlushMode.Now, null);
        }
    }

    /// <summary>
    /// Waits for a flush the client does not take (it is not reading). Its replies sit in the gateway meanwhile: once
    /// they are over the soft output limit for its duration the client is cut off, even when no new reply arrives to
    /// check it (a client that sent a pipeline and stopped).
    /// </summary>
    private async Task<System.IO.Pipelines.FlushResult> WhileNotReadingAsync(ValueTask<System.IO.Pipelines.FlushResult> flush)
    {
        var pending = flush.AsTask();
        var limit = _context.Options.ClientOutputLimit;
        var period = limit.SoftDuration > TimeSpan.Zero && limit.SoftDuration < TimeSpan.FromSeconds(1) ? limit.SoftDuration : TimeSpan.FromSeconds(1);
        while (true)
        {
            try
            {
                return await pending.WaitAsync(period, _context.TimeProvider);
            }
            catch (TimeoutException)
            {
                OnReplyBuffered(0);
            }
        }
    }

    /// <summary>False when writing is over (client gone or QUIT answered).</summary>
    private bool AfterFlush(System.IO.Pipelines.FlushResult flush, int written, bool close)
    {
        Interlocked.Add(ref _outstanding, -written);
        _credit.Set();
        if (flush.IsCompleted || flush.IsCanceled || close)
        {
            Finish();
            return false;
        }

        return true;
    }

    private void Finish()
    {
        lock (_gate)
        {
            _closed = true;
        }

        _drained.TrySetResult();
        try
        {
            _aborted.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }

        _client.Transport.Input.CancelPendingRead();
    }

    private async Task ReadLoopAsync()
    {
        var input = _client.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            var consumed = buffer.Start;
            var stop = false;
            try
            {
                if (_stopping)
                {
                    return;
                }

                // Backpressure: a client that does not read its replies stops having its commands read.
                while (ProcessBatch(buffer, ref consumed, out stop))
                {
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
                input.AdvanceTo(consumed, buffer.End);
            }
        }
    }

    /// <summary>
    /// Handles the complete commands in the buffer as one batch: backend connections written to are
    /// flushed once, and the gateway's own replies go out in one flush, at its end. True when it stopped
    /// because too many replies are outstanding (wait for credit, then call again).
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
                    break;
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
        if (!_request.InProgress)
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
            RouterLog.ProtocolError(_context.Logger, Id, error ?? "?");
            var slot = NewSlot();
            slot.CloseAfter = true;
            Answer(slot, GatewayReplies.ProtocolError(error ?? "Protocol error"));
            stop = true;
            return false;
        }

        consumed = reader.Position;
        if (_request.Count == 0)
        {
            return true;
        }

        stop = RouterCommands.Execute(this, _request);
        return !stop;
    }

    /// <summary>How a writer treats replies it has written: flush at the batch's end, at the batch's end unless more are on their way, or now.</summary>
    private enum FlushMode
    {
        Defer,
        Linger,
        Now,
    }

    public void Dispose()
    {
        _request.Dispose();
        _aborted.Dispose();
    }
}
