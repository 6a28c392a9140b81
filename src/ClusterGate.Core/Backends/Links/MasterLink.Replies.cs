using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Resp;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Backends.Links;

internal sealed partial class MasterLink
{
    /// <summary>
    /// The pump: the only writer to the client. Matches reply frames to commands in order, writes the gateway's own
    /// replies in their place, follows the master (moves, losses), and hands back credits. Ends when the client is
    /// done and nothing is pending, after QUIT, or when the link is aborted.
    /// </summary>
    public async Task PumpAsync(ILinkClient client)
    {
        var output = client.Output;
        while (!_aborted.IsCancellationRequested)
        {
            // Taken before any check, so a Wake() after this point is never lost.
            var wakeSource = Volatile.Read(ref _wake);
            var drained = DrainLocalReplies(client);
            GiveBackCredits();
            if (drained)
            {
                if (!await FlushClientAsync(output))
                {
                    return;
                }
            }

            if (_clientDone && _pending.IsEmpty)
            {
                return;
            }

            if (_quitReplied)
            {
                return;
            }

            if (_moveRequested)
            {
                _moveRequested = false;
                await MoveIfMasterChangedAsync(client);
                continue;
            }

            var backend = Volatile.Read(ref _backend);
            if (backend is null)
            {
                if (_state.HasSubscriptions && !_clientDone)
                {
                    // A subscriber sends nothing: the pump itself must bring it to the new master.
                    await _sendLock.WaitAsync(_aborted.Token);
                    try
                    {
                        if (Volatile.Read(ref _backend) is null)
                        {
                            await AcquireBackendLockedAsync();
                        }
                    }
                    finally
                    {
                        _sendLock.Release();
                    }

                    continue;
                }

                await wakeSource.Task.WaitAsync(_aborted.Token);
                Interlocked.CompareExchange(ref _wake, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), wakeSource);
                continue;
            }

            var alive = await ReadRepliesOnceAsync(backend, client);
            if (!alive)
            {
                if (_quitReplied)
                {
                    return;
                }

                await _sendLock.WaitAsync(_aborted.Token);
                try
                {
                    if (ReferenceEquals(Volatile.Read(ref _backend), backend))
                    {
                        await LoseBackendLockedAsync(backend, client);
                    }
                }
                finally
                {
                    _sendLock.Release();
                }
            }
        }
    }

    /// <summary>Reads one batch of reply frames and writes them to the client. False when the backend is gone.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ReadRepliesOnceAsync(BackendConnection backend, ILinkClient client)
    {
        var output = client.Output;
        ReadResult result;
        try
        {
            result = await backend.Input.ReadAsync();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_aborted.IsCancellationRequested)
        {
            LogBackendLost(backend.Endpoint.ToString(), ex.Message);
            return false;
        }

        var buffer = result.Buffer;
        var consumed = buffer.Start;
        bool corrupt;
        bool wrote;
        try
        {
            wrote = ProcessReplies(buffer, client, ref consumed, out corrupt);
        }
        finally
        {
            backend.Input.AdvanceTo(consumed, buffer.End);
        }

        wrote |= DrainLocalReplies(client);
        GiveBackCredits();
        if (wrote && !await FlushClientAsync(output))
        {
            _clientDone = true;
        }

        if (_sampleReadAt != 0)
        {
            _options.Stats?.Record(_sampleReadAt, _sampleSentAt, _sampleRepliedAt, _groupStats);
            _sampleReadAt = 0;
        }

        if (corrupt)
        {
            LogBackendLost(backend.Endpoint.ToString(), "malformed reply");
            return false;
        }

        if (result.IsCompleted)
        {
            if (!_quitReplied)
            {
                LogBackendLost(backend.Endpoint.ToString(), "connection closed");
            }

            return false;
        }

        return true;
    }

    private bool ProcessReplies(ReadOnlySequence<byte> buffer, ILinkClient client, ref SequencePosition consumed, out bool corrupt)
    {
        corrupt = false;
        var wrote = false;
        var output = client.Output;
        var reader = new SequenceReader<byte>(buffer.Slice(consumed));
        try
        {
            while (true)
            {
                wrote |= DrainLocalReplies(client);
                if (reader.End)
                {
                    return wrote;
                }

                if (!_replyScan.IsInProgress && ForwardPlainReplies(reader.UnreadSpan, output) is var forwarded and > 0)
                {
                    reader.Advance(forwarded);
                    wrote = true;
                    continue;
                }

                var start = reader;
                var status = RespFrameScanner.TryScan(ref reader, RespLimits.Replies, ref _replyScan, out _);
                if (status != RespScanStatus.Complete)
                {
                    // Incomplete: the scan state resumes from the frame start next time.
                    reader = start;
                    corrupt = status == RespScanStatus.Error;
                    return wrote;
                }

                HandleFrame(start.UnreadSequence.Slice(0, reader.Consumed - start.Consumed), client);
                wrote = true;
            }
        }
        finally
        {
            consumed = reader.Position;
        }
    }

    /// <summary>
    /// The usual run of replies: simple frames answering plain commands, forwarded unchanged with one
    /// write. Returns the bytes consumed; 0 when the next frame needs <see cref="HandleFrame"/>.
    /// </summary>
    private int ForwardPlainReplies(ReadOnlySpan<byte> span, PipeWriter output)
    {
        var limits = RespLimits.Replies;
        var offset = 0;
        while (offset < span.Length)
        {
            var length = RespSimpleFrame.TryScan(span[offset..], limits);
            if (length == 0)
            {
                break;
            }

            // Simple frames are never pushes or pub/sub messages; only a plain command's reply passes as is.
            ref var head = ref _pending.PeekHead();
            if (Unsafe.IsNullRef(ref head) || head.Kind != CommandKind.Normal || head.LocalReply is not null
                || head.IsInternal || head.RepliesLeft > 1 || _state.Monitoring)
            {
                break;
            }

            if (head.ReadAt != 0)
            {
                NoteTimed(in head);
            }

            Recycle(in head);
            _pending.DequeueHead();
            offset += length;
        }

        if (offset > 0)
        {
            output.Write(span[..offset]);
        }

        return offset;
    }

    private void HandleFrame(ReadOnlySequence<byte> frame, ILinkClient client)
    {
        var output = client.Output;
        ref var head = ref _pending.PeekHead();
        if (Unsafe.IsNullRef(ref head) || (_state.Monitoring && !head.IsInternal) || RespPushes.IsUnsolicited(frame, _state.HasSubscriptions || IsSubscribeFamily(head.Kind)))
        {
            Forward(frame, output);
            return;
        }

        var isError = frame.FirstSpan[0] == (byte)'-';
        if (!head.IsInternal)
        {
            if (isError || head.Kind is CommandKind.ClusterNodes or CommandKind.ClusterSlots or CommandKind.ClusterShards)
            {
                // The client decides: an error may be a redirect to rewrite or a sign the master changed.
                client.WriteReply(head.Kind, isError, frame);
            }
            else
            {
                Forward(frame, output);
            }
        }
        else if (isError)
        {
            LogReplayFailed(Encoding.UTF8.GetString(frame).TrimEnd());
        }

        if (!isError)
        {
            _state.Apply(head.Kind, head.Request, frame, ref _quitReplied);
        }
        else if (head.Kind is CommandKind.Exec or CommandKind.Discard)
        {
            _state.InMulti = false;
        }

        head.RepliesLeft--;
        if (head.RepliesLeft <= 0 || isError)
        {
            if (head.ReadAt != 0)
            {
                NoteTimed(in head);
            }

            Recycle(in head);
            _pending.DequeueHead();
        }
    }

    /// <summary>Writes a frame to the client unchanged.</summary>
    public static void Forward(in ReadOnlySequence<byte> frame, PipeWriter output)
    {
        foreach (var segment in frame)
        {
            output.Write(segment.Span);
        }
    }

    private bool DrainLocalReplies(ILinkClient client)
    {
        var output = client.Output;
        var wrote = false;
        while (true)
        {
            ref var head = ref _pending.PeekHead();
            if (Unsafe.IsNullRef(ref head) || head.LocalReply is not { } reply)
            {
                return wrote;
            }

            output.Write(reply);
            if (reply.Length > 0 && reply[0] == (byte)'-')
            {
                client.OnLocalError(reply);
            }

            Recycle(in head);
            _pending.DequeueHead();
            wrote = true;
        }
    }

    /// <summary>Pump: a timed command's reply was read; its latency is recorded once the batch is flushed to the client.</summary>
    private void NoteTimed(in PendingCommand head)
    {
        if (_sampleReadAt == 0)
        {
            _sampleReadAt = head.ReadAt;
            _sampleSentAt = head.SentAt;
            _sampleRepliedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        }
    }

    private async Task<bool> FlushClientAsync(PipeWriter output)
    {
        if (_options.Stats is { } stats && output.CanGetUnflushedBytes)
        {
            stats.BytesOut.Add(output.UnflushedBytes);
        }

        try
        {
            var flush = await output.FlushAsync();
            if (flush.IsCompleted)
            {
                _clientDone = true;
                return false;
            }

            return true;
        }
        catch (Exception ex) when (ex is IOException or ConnectionResetException or ConnectionAbortedException or InvalidOperationException)
        {
            _clientDone = true;
            return false;
        }
    }

    /// <summary>Pump: a command is answered; its copy and credit are freed (the credit with the batch's others).</summary>
    private void Recycle(in PendingCommand p)
    {
        ReturnBytes(in p);
        if (p.HoldsCredit)
        {
            _freedCredits.Value++;
        }
    }

    private void ReturnBytes(in PendingCommand p)
    {
        if (p.ArenaEnd != 0)
        {
            _arena.Release(p.ArenaEnd);
        }
        else if ((p.Flags & PendingFlags.Pooled) != 0)
        {
            ArrayPool<byte>.Shared.Return(p.Bytes!);
        }
    }

    /// <summary>Pump: hands the credits and request copies of the replies processed so far back to the client loop.</summary>
    private void GiveBackCredits()
    {
        _arena.Publish();
        var freed = (int)_freedCredits.Value;
        if (freed == 0)
        {
            return;
        }

        _freedCredits.Value = 0;

        // A full fence before the waiter is read: pairs with the client loop's in WaitForCreditAsync.
        Interlocked.Add(ref _inFlight, -freed);
        if (Volatile.Read(ref _creditWaiter) is not null)
        {
            Interlocked.Exchange(ref _creditWaiter, null)?.TrySetResult();
        }
    }

    private static bool IsSubscribeFamily(CommandKind kind) =>
        kind is CommandKind.Subscribe or CommandKind.PSubscribe or CommandKind.SSubscribe
            or CommandKind.Unsubscribe or CommandKind.PUnsubscribe or CommandKind.SUnsubscribe;
}
