using System.Buffers;
using System.IO.Pipelines;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Backends.Links;
using ClusterGate.Core.Resp;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>
/// One of a router client's own connections to a master, for what must not run on a shared connection: a blocking
/// command, a watched transaction, subscriptions, MONITOR. It is a <see cref="MasterLink"/>, so it follows its group's
/// master exactly as a shard-port session does (hold, move, replay, outcome unknown); its replies come back through
/// a pipe into the client's reply order, and what answers no command (a pub/sub message, a MONITOR line) goes to the
/// client as a push.
/// </summary>
internal sealed class RouterLink : ILinkClient, IAsyncDisposable
{
    private readonly RouterSession _session;
    private readonly MasterLink _link;
    private readonly Pipe _pipe = new(new PipeOptions(useSynchronizationContext: false));
    private readonly Lock _gate = new();
    private readonly Queue<Expected> _expected = new();
    private readonly Action? _release;
    private readonly Observability.StripedCounter _commands;
    private readonly Task _pump;
    private readonly Task _reader;
    private RespScanState _scan;
    private Task _tail = Task.CompletedTask;
    private int _disposed;

    public RouterLink(RouterSession session, int groupId, Action? release)
    {
        _session = session;
        GroupId = groupId;
        _release = release;
        var context = session.Context;
        _commands = context.Stats.Group(groupId).Commands;
        _link = new MasterLink(groupId, session.Id, context.Masters, context.Connector, context.LinkOptions, context.Logger, context.TimeProvider);
        _pump = Task.Run(() => _link.PumpAsync(this));
        _reader = Task.Run(ReadAsync);
    }

    public int GroupId { get; }

    /// <summary>What the link recorded of its connection's state (subscriptions, for unsubscribe-all counts).</summary>
    public ConnectionState State => _link.State;

    /// <summary>Backend connections the link has had; a new one means the old one's state (WATCH) was lost.</summary>
    public int Connections => _link.Connections;

    /// <summary>Frames that answer no command go to the client as pushes (a subscriber, MONITOR).</summary>
    public bool Pushes { get; set; }

    /// <summary>MONITOR: after its <c>+OK</c>, every line is a push.</summary>
    public bool Monitoring { get; set; }

    PipeWriter ILinkClient.Output => _pipe.Writer;

    void ILinkClient.WriteReply(CommandKind kind, bool isError, in ReadOnlySequence<byte> frame) => MasterLink.Forward(frame, _pipe.Writer);

    /// <summary>
    /// Sends a command on the link; its reply (<paramref name="frames"/> frames, or one error) completes
    /// <paramref name="slot"/>, or is dropped when there is none.
    /// </summary>
    /// <returns>The whole reply, once in (an error when the link ended first).</returns>
    public Task<ReadOnlyMemory<byte>> SendAsync(ReadOnlyMemory<byte> command, CommandKind kind, int frames, bool readOnly, ReplySlot? slot)
    {
        var expected = new Expected(slot, frames, kind);

        // In the order called: a send may wait for a master (hold) and the next one must not pass it.
        lock (_gate)
        {
            _tail = SendAfterAsync(_tail, command, kind, readOnly, expected);
        }

        return expected.Done.Task;
    }

    private async Task SendAfterAsync(Task previous, ReadOnlyMemory<byte> command, CommandKind kind, bool readOnly, Expected expected)
    {
        try
        {
            await previous;
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
        }

        await SendNowAsync(command, kind, readOnly, expected);
    }

    private async Task SendNowAsync(ReadOnlyMemory<byte> command, CommandKind kind, bool readOnly, Expected expected)
    {
        try
        {
            await _link.LockAsync();
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
            var reply = GatewayReplies.OutcomeUnknown("of this client's own connection");
            expected.Slot?.SetReply(reply, null);
            expected.Done.TrySetResult(reply);
            return;
        }

        try
        {
            await _link.EnsureConnectedLockedAsync();
            lock (_gate)
            {
                _expected.Enqueue(expected);
            }

            if (_link.Backend is not { } backend)
            {
                _link.EnqueueLocal(_link.NoMaster());
                _link.Wake();
                return;
            }

            var pending = new PendingCommand
            {
                Kind = kind,
                RepliesLeft = expected.Frames,
                Flags = PendingFlags.HoldsCredit | (readOnly ? PendingFlags.ReadOnly : PendingFlags.None),
            };
            if (readOnly || kind != CommandKind.Normal)
            {
                _link.Keep(ref pending, command.Span);
            }

            _link.TakeCredits(1);
            _link.Enqueue(pending);
            _commands.Increment();
            backend.Output.Write(command.Span);
            try
            {
                await backend.Output.FlushAsync(_link.Aborted);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The pump sees the same failure on its read side and answers the command.
            }
        }
        finally
        {
            _link.Unlock();
        }
    }

    /// <summary>Turns the client's replies into frames for its order, and its pushes into pushes.</summary>
    private async Task ReadAsync()
    {
        var input = _pipe.Reader;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync();
                var buffer = result.Buffer;
                var consumed = buffer.Start;
                try
                {
                    while (true)
                    {
                        var reader = new SequenceReader<byte>(buffer.Slice(consumed));
                        var start = reader;
                        if (RespFrameScanner.TryScan(ref reader, RespLimits.Replies, ref _scan, out _) != RespScanStatus.Complete)
                        {
                            break;
                        }

                        var frame = start.UnreadSequence.Slice(0, reader.Consumed);
                        consumed = frame.End;
                        OnFrame(frame);
                    }
                }
                finally
                {
                    input.AdvanceTo(consumed, buffer.End);
                }

                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (InvalidOperationException)
        {
        }
        finally
        {
            await input.CompleteAsync();
        }
    }

    private void OnFrame(in ReadOnlySequence<byte> frame)
    {
        Expected? head;
        lock (_gate)
        {
            _expected.TryPeek(out head);
        }

        var isError = frame.FirstSpan[0] == (byte)'-';
        var unsolicited = Pushes && RespPushes.IsUnsolicited(frame, subscribed: true);

        // Messages are unsolicited; an sunsubscribe reads as a confirmation, so only those frames are parsed here.
        if (Pushes && !unsolicited && head is not { Kind: CommandKind.SUnsubscribe } && ShardChannelEnded(frame) is { } channel)
        {
            // No SUNSUBSCRIBE of the client's asked for this: Redis ended the subscription because the channel's
            // slot moved to another master. The session subscribes again there; the client does not notice.
            _link.State.ForgetShardChannel(channel);
            _session.OnShardChannelMoved(this, channel, frame.ToArray());
            return;
        }

        if ((Monitoring && head is null) || (unsolicited && !(head is not null && isError)))
        {
            _session.Push(frame);
            return;
        }

        if (head is null)
        {
            return;
        }

        foreach (var segment in frame)
        {
            head.Reply.Write(segment.Span);
        }

        if (--head.Frames > 0 && !isError)
        {
            return;
        }

        lock (_gate)
        {
            _expected.Dequeue();
        }

        head.Slot?.SetReply(new ReadOnlySequence<byte>(head.Reply.WrittenMemory), null);
        head.Done.TrySetResult(head.Reply.WrittenMemory);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _link.Abort();
        try
        {
            await _pump;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or InvalidOperationException or ObjectDisposedException)
        {
        }

        await _pipe.Writer.CompleteAsync();
        await _reader;
        await _link.DisposeAsync();

        // Replies that never came: their slots must not hold the client's order.
        lock (_gate)
        {
            while (_expected.TryDequeue(out var lost))
            {
                var reply = GatewayReplies.OutcomeUnknown("of this client's own connection");
                lost.Slot?.SetReply(reply, null);
                lost.Done.TrySetResult(reply);
            }
        }

        _release?.Invoke();
    }

    /// <summary>The channel of an <c>sunsubscribe</c> message (RESP2 array or RESP3 push), or null for any other frame.</summary>
    private static string? ShardChannelEnded(in ReadOnlySequence<byte> frame)
    {
        var type = frame.FirstSpan[0];
        if (type is not ((byte)'*' or (byte)'>') || frame.Length > 4096)
        {
            return null;
        }

        var reader = new SequenceReader<byte>(frame);
        if (RespValue.TryRead(ref reader, RespLimits.Default, out var value, out _) != RespScanStatus.Complete
            || value is null || value.Items.Count != 3 || value.Items[1].IsNull || value.Items[0].AsString() != "sunsubscribe")
        {
            return null;
        }

        return System.Text.Encoding.Latin1.GetString(value.Items[1].Bytes.Span);
    }

    private sealed class Expected(ReplySlot? slot, int frames, CommandKind kind)
    {
        public ReplySlot? Slot { get; } = slot;

        public CommandKind Kind { get; } = kind;

        public int Frames { get; set; } = frames;

        public ArrayBufferWriter<byte> Reply { get; } = new(64);

        /// <summary>The whole reply, once in.</summary>
        public TaskCompletionSource<ReadOnlyMemory<byte>> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
