using System.Buffers;
using ClusterGate.Core.Backends.Shared;
using ClusterGate.Core.Resp;
using Microsoft.AspNetCore.Connections;

namespace ClusterGate.Core.Frontends.Router;

internal sealed partial class RouterSession
{
    /// <summary>A slot for the next reply in the client's order.</summary>
    public ReplySlot NewSlot()
    {
        var slot = new ReplySlot(this) { Dropped = DropReply() };
        _context.Stats.Commands(CommandClass).Increment();
        if (_sampleReadAt != 0)
        {
            slot.ReadAt = _sampleReadAt;
            _sampleReadAt = 0;
        }

        Interlocked.Increment(ref _slotsPending);
        lock (_gate)
        {
            _replies.Enqueue(slot);
        }

        Interlocked.Increment(ref _outstanding);
        return slot;
    }

    /// <summary>The output limit of the client's class, as Redis has them: a subscriber's (pubsub), else a normal client's.</summary>
    private OutputBufferLimit OutputLimit => IsSubscribed ? _context.Options.PubSubOutputLimit : _context.Options.ClientOutputLimit;

    /// <summary>
    /// A frame that answers no command (a pub/sub message, a MONITOR line): written at the next frame boundary, in the
    /// order it arrived among the client's replies. Counted like a reply, so a subscriber that does not read is cut
    /// off at its output limit and stops being read meanwhile.
    /// </summary>
    public void Push(in ReadOnlySequence<byte> frame)
    {
        var slot = new ReplySlot(this);
        lock (_gate)
        {
            _replies.Enqueue(slot);
        }

        Interlocked.Increment(ref _outstanding);
        Interlocked.Increment(ref _slotsPending);
        slot.SetReply(frame, null);
    }

    /// <summary>A slot's reply is in (written or kept for its turn).</summary>
    public void OnSlotDone()
    {
        if (Interlocked.Decrement(ref _slotsPending) == 0)
        {
            Volatile.Read(ref _quiet)?.TrySetResult();
        }
    }

    /// <summary>Completes once every reply asked for so far is in: what was sent before has run.</summary>
    public Task QuietAsync()
    {
        if (Volatile.Read(ref _slotsPending) == 0)
        {
            return Task.CompletedTask;
        }

        var quiet = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _quiet, quiet);
        if (Volatile.Read(ref _slotsPending) == 0)
        {
            quiet.TrySetResult();
        }

        return quiet.Task;
    }

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
        if (slot.Dropped)
        {
            // Turned off by the client: its place in the order is kept, nothing is written.
        }
        else
        {
            if (reply.FirstSpan is [(byte)'-', ..])
            {
                _context.Stats.CountError(reply);
            }

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
        }

        _unflushed++;
        if (slot.ReadAt != 0)
        {
            RecordTimed(slot);
        }

        WriteReady(batch is not null ? FlushMode.Defer : FlushMode.Now, batch);
        return true;
    }

    /// <summary>A timed command's reply is written to the client: its latency goes to the metrics.</summary>
    private void RecordTimed(ReplySlot slot) => _context.Stats.Record(slot.ReadAt, slot.SentAt, slot.RepliedAt, slot.Group);

    /// <summary>
    /// A reply was copied into its slot to wait for its turn. A client that does not read makes these pile up:
    /// past the output limit it is disconnected, so it cannot grow the gateway or slow the shared connections.
    /// </summary>
    public void OnReplyBuffered(int length)
    {
        var limit = OutputLimit;
        long buffered;
        var cut = false;
        lock (_gate)
        {
            _buffered += length;

            // What the gateway holds for this client: replies waiting for their turn, and the bytes of a flush the client
            // is not taking (written to the transport's pipe in one go, they no longer count in _buffered).
            buffered = _buffered + Volatile.Read(ref _pendingFlushBytes);
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
                        if (!head.Dropped)
                        {
                            if (head.Reply is [(byte)'-', ..])
                            {
                                _context.Stats.CountError(head.Reply);
                            }

                            output.Write(head.Reply);
                        }

                        _buffered -= head.Length;
                        head.Return();
                        _unflushed++;
                        if (head.ReadAt != 0)
                        {
                            RecordTimed(head);
                        }

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
                var bytes = output.CanGetUnflushedBytes ? output.UnflushedBytes : 0;
                _context.Stats.BytesOut.Add(bytes);
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
                    Volatile.Write(ref _pendingFlushBytes, bytes);
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
        finally
        {
            Volatile.Write(ref _pendingFlushBytes, 0);
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
        var limit = OutputLimit;
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

    /// <summary>How a writer treats replies it has written: flush at the batch's end, at the batch's end unless more are on their way, or now.</summary>
    private enum FlushMode
    {
        Defer,
        Linger,
        Now,
    }
}
