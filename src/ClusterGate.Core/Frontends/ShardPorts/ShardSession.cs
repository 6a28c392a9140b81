using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Frontends.Rewrite;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Topology;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.ShardPorts;

/// <summary>
/// One client connection on a shard port, relayed to its group's current master.
/// </summary>
/// <remarks>
/// Two loops share the session. The client loop parses requests, records each as a
/// <see cref="PendingCommand"/> (with a copy of its bytes when it may be sent again) and writes it to the backend; it
/// holds <see cref="_sendLock"/> while it sends. The pump is the only writer to the client: it
/// matches backend reply frames to pending commands in order, writes gateway-made replies in their
/// place, and owns failover: on backend loss it takes the send lock, turns in-flight writes into
/// "outcome unknown" errors, keeps read-only commands for resending, waits (bounded) for the group's
/// next confirmed master, replays connection state and resends.
/// </remarks>
internal sealed class ShardSession : IClientSession, IDisposable
{
    private readonly ConnectionContext _client;
    private readonly ShardPortContext _context;
    private readonly int _groupId;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly int _maxInFlight;
    private readonly PendingQueue _pending = new();
    private readonly RequestArena _arena = new();
    private readonly RespRequest _request = new();
    private readonly ConnectionState _state = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _aborted = new();
    private BackendConnection? _backend;
    private RespScanState _replyScan;
    private TaskCompletionSource _wake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource? _creditWaiter;
    private int _inFlight;

    /// <summary>Credits the pump freed and has not yet given back (one atomic per batch, not per reply).</summary>
    private PaddedInt64 _freedCredits;
    private readonly byte[] _lastName = new byte[32];
    private int _lastNameLength;
    private bool _lastReadOnly;
    private volatile bool _clientDone;

    /// <summary>The client closed or reset its connection (not QUIT, not a protocol error, not a shutdown).</summary>
    private volatile bool _clientGone;
    private volatile bool _stopping;
    private volatile bool _moveRequested;
    private bool _quitReplied;

    public ShardSession(ConnectionContext client, ShardPortContext context, int groupId, long id)
    {
        _client = client;
        _context = context;
        _groupId = groupId;
        _logger = context.Logger;
        Id = id;
        _maxInFlight = context.Options.MaxPendingPerSession;
    }

    public long Id { get; }

    public Task Completion => _done.Task;

    public string? BackendNodeId => Volatile.Read(ref _backend)?.NodeId;

    /// <summary>The group's master changed: move to it once in-flight replies are in.</summary>
    public void RequestMove()
    {
        _moveRequested = true;
        Wake();
    }

    /// <summary>Stop reading new commands; in-flight replies still drain.</summary>
    public void BeginShutdown()
    {
        _stopping = true;
        _client.Transport.Input.CancelPendingRead();
        Wake();
    }

    /// <summary>Drop everything now (drain time is over).</summary>
    public void Abort()
    {
        if (_done.Task.IsCompleted)
        {
            return;
        }

        _aborted.Cancel();
        _client.Abort(new ConnectionAbortedException("the gateway is shutting down"));
        Volatile.Read(ref _backend)?.Abort();
        Wake();
    }

    public async Task RunAsync()
    {
        ShardSessionLog.SessionStarted(_logger, Id, _groupId, _client.RemoteEndPoint?.ToString() ?? "?");
        var pump = Task.Run(PumpAsync);
        var clientLoop = RunClientLoopAsync();
        if (await Task.WhenAny(pump, clientLoop) == pump)
        {
            // The pump ended first: the client is gone (or QUIT was answered). Stop reading requests that
            // nobody will see answered, even when the loop is waiting for in-flight credits.
            _clientDone = true;
            await _aborted.CancelAsync();
            _client.Transport.Input.CancelPendingRead();
        }

        await clientLoop;
        if (_clientGone)
        {
            // The client left: nobody will read what is pending, and a command still running on the backend
            // (BLPOP, a stalled inline request) must not outlive it. Closing the backend makes Redis drop it.
            EndNow();
        }
        else if (!_stopping && !pump.IsCompleted
            && await Task.WhenAny(pump, Task.Delay(_context.Options.DrainTimeout, _context.TimeProvider)) != pump)
        {
            // QUIT or a protocol error: earlier replies go out first, but a reply that never comes
            // (a blocked command) cannot keep the session.
            EndNow();
        }

        try
        {
            await pump;
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException or InvalidOperationException)
        {
        }
        finally
        {
            if (Interlocked.Exchange(ref _backend, null) is { } backend)
            {
                await backend.DisposeAsync();
            }

            while (_pending.TryDequeue(out var p))
            {
                ReturnBytes(in p);
            }

            await _client.Transport.Output.CompleteAsync();
            await _client.Transport.Input.CompleteAsync();
            ShardSessionLog.SessionEnded(_logger, Id, _groupId);
            Dispose();
            _done.TrySetResult();
        }
    }

    // ---------------------------------------------------------------- client → backend

    private async Task RunClientLoopAsync()
    {
        try
        {
            await ClientLoopAsync();
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException)
        {
            // The client went away (or the session is being torn down); nothing to answer.
            _clientGone = !_stopping;
        }
        finally
        {
            _clientDone = true;
            Wake();
        }
    }

    /// <summary>Ends the session without waiting for anything pending: the backend closes, the pump stops.</summary>
    private void EndNow()
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

    private async Task ClientLoopAsync()
    {
        var input = _client.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            var consumed = buffer.Start;
            try
            {
                if (_stopping || _clientDone)
                {
                    return;
                }

                while (!_clientDone)
                {
                    // Backpressure: at most MaxPendingPerSession commands of this client in flight.
                    await WaitForCreditAsync();

                    await _sendLock.WaitAsync(_aborted.Token);
                    BatchOutcome outcome;
                    try
                    {
                        if (Volatile.Read(ref _backend) is null && !_clientDone)
                        {
                            await AcquireBackendLockedAsync();
                        }

                        var backend = Volatile.Read(ref _backend);
                        outcome = ProcessRequests(buffer.Slice(consumed), backend, out var processed);
                        consumed = buffer.GetPosition(processed, consumed);
                        if (outcome.WroteToBackend && backend is not null)
                        {
                            try
                            {
                                await backend.Output.FlushAsync();
                            }
                            catch (Exception ex) when (ex is not OperationCanceledException)
                            {
                                // The pump sees the same failure on its read side and handles it.
                            }
                        }

                        if (outcome.WroteLocal)
                        {
                            Wake();
                        }
                    }
                    finally
                    {
                        _sendLock.Release();
                    }

                    if (outcome.Stop)
                    {
                        return;
                    }

                    if (!outcome.MoreCompleteFrames)
                    {
                        break;
                    }
                }

                if (result.IsCompleted)
                {
                    // End of stream: the client closed its side. It will not read what is pending.
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

    private readonly record struct BatchOutcome(bool WroteToBackend, bool WroteLocal, bool MoreCompleteFrames, bool Stop);

    private BatchOutcome ProcessRequests(ReadOnlySequence<byte> buffer, BackendConnection? backend, out long processed)
    {
        // Credits for the whole batch with one atomic: only this loop adds to the count and the pump only
        // subtracts, so the room seen here can only grow while the batch runs.
        var room = _maxInFlight - Volatile.Read(ref _inFlight);
        var taken = 0;
        ReadOnlySpan<byte> unsent = default;
        try
        {
            return ProcessRequests(buffer, backend, room, ref taken, ref unsent, out processed);
        }
        finally
        {
            if (!unsent.IsEmpty)
            {
                backend!.Output.Write(unsent);
            }

            if (taken != 0)
            {
                Interlocked.Add(ref _inFlight, taken);
            }
        }
    }

    /// <param name="unsent">Forwarded frames not yet written: adjacent ones go to the backend with one write.</param>
    private BatchOutcome ProcessRequests(
        ReadOnlySequence<byte> buffer, BackendConnection? backend, int room, ref int taken, scoped ref ReadOnlySpan<byte> unsent, out long processed)
    {
        var reader = new SequenceReader<byte>(buffer);
        var wroteBackend = false;
        var wroteLocal = false;
        processed = 0;
        Span<byte> nameScratch = stackalloc byte[NameScratchLength];
        Span<byte> argumentScratch = stackalloc byte[NameScratchLength];
        while (!reader.End)
        {
            if (taken >= room)
            {
                return new(wroteBackend, wroteLocal, MoreCompleteFrames: true, Stop: false);
            }

            taken++;
            Submitted submitted;
            var span = reader.UnreadSpan;
            if (!_request.InProgress
                && RespRequestHead.TryScan(span, _context.Limits, out var length, out var count, out var nameOffset, out var nameLength, out var argumentOffset, out var argumentLength))
            {
                // The usual request: a whole RESP array in this segment; only the name (and first argument) matter.
                var frame = span[..length];
                reader.Advance(length);
                processed = reader.Consumed;
                var argument = argumentLength >= 0 ? frame.Slice(argumentOffset, argumentLength) : default;
                submitted = Submit(frame, default, frame.Slice(nameOffset, nameLength), argument, count - 1, backend);
                if (submitted != Submitted.Local)
                {
                    if (!unsent.IsEmpty && !Unsafe.AreSame(
                        ref Unsafe.Add(ref MemoryMarshal.GetReference(unsent), unsent.Length), ref MemoryMarshal.GetReference(frame)))
                    {
                        backend!.Output.Write(unsent);
                        unsent = default;
                    }

                    unsent = unsent.IsEmpty ? frame : MemoryMarshal.CreateReadOnlySpan(ref MemoryMarshal.GetReference(unsent), unsent.Length + length);
                }
            }
            else
            {
                var status = RespRequestParser.TryParse(ref reader, _context.Limits, _request, out var error);
                if (status == RespScanStatus.Incomplete)
                {
                    taken--;
                    break;
                }

                if (status == RespScanStatus.Error)
                {
                    // Like Redis: answer the protocol error, then close once earlier replies are out.
                    ShardSessionLog.ProtocolError(_logger, Id, error ?? "?");
                    EnqueueLocal(GatewayReplies.ProtocolError(error ?? "Protocol error"));
                    processed = reader.Consumed;
                    return new(wroteBackend, WroteLocal: true, MoreCompleteFrames: false, Stop: true);
                }

                processed = reader.Consumed;
                if (_request.Count == 0)
                {
                    taken--;
                    continue;
                }

                if (!unsent.IsEmpty)
                {
                    backend!.Output.Write(unsent);
                    unsent = default;
                }

                var name = Head(_request.Argument(0), nameScratch);
                var argument = _request.Count > 1 ? Head(_request.Argument(1), argumentScratch) : default;
                submitted = Submit(default, _request.ArrayFrame, name, argument, _request.Count - 1, backend);
            }

            switch (submitted)
            {
                case Submitted.Local:
                    wroteLocal = true;
                    break;
                case Submitted.Backend:
                    wroteBackend = true;
                    break;
                case Submitted.Quit:
                    return new(WroteToBackend: true, wroteLocal, MoreCompleteFrames: false, Stop: true);
            }
        }

        return new(wroteBackend, wroteLocal, MoreCompleteFrames: false, Stop: false);
    }

    /// <summary>Longer than any name the relay or the command catalog tells apart, so a cut copy compares like the whole.</summary>
    private const int NameScratchLength = 65;

    private enum Submitted
    {
        Local,
        Backend,
        Quit,
    }

    /// <summary>An argument as one span: the fallback parser's can span segments; a cut copy is enough to classify.</summary>
    private static ReadOnlySpan<byte> Head(in ReadOnlySequence<byte> argument, Span<byte> scratch)
    {
        if (argument.IsSingleSegment)
        {
            return argument.FirstSpan;
        }

        var length = (int)Math.Min(argument.Length, scratch.Length);
        argument.Slice(0, length).CopyTo(scratch);
        return scratch[..length];
    }

    /// <summary>
    /// Records one request in the reply order and forwards it (or answers it locally). The frame is
    /// <paramref name="frameSequence"/> when that is not empty, written here; else <paramref name="frameSpan"/>,
    /// which the caller writes unless this answers <see cref="Submitted.Local"/>.
    /// </summary>
    private Submitted Submit(
        ReadOnlySpan<byte> frameSpan,
        in ReadOnlySequence<byte> frameSequence,
        ReadOnlySpan<byte> name,
        ReadOnlySpan<byte> argument,
        int args,
        BackendConnection? backend)
    {
        var kind = Classify(name, argument, args, out var replies);
        if (_state.MultiAborted)
        {
            EnqueueLocal(kind switch
            {
                CommandKind.Exec => GatewayReplies.ExecAbortedByFailover,
                CommandKind.Discard => GatewayReplies.Ok,
                _ => GatewayReplies.TransactionLostByFailover,
            });
            if (kind is CommandKind.Exec or CommandKind.Discard)
            {
                _state.MultiAborted = false;
            }

            return Submitted.Local;
        }

        if (backend is null)
        {
            EnqueueLocal(NoMaster());
            return Submitted.Local;
        }

        var readOnly = IsReadOnly(name, argument, args > 0);
        var pending = new PendingCommand
        {
            Kind = kind,
            RepliesLeft = replies,
            Flags = PendingFlags.HoldsCredit | (readOnly ? PendingFlags.ReadOnly : PendingFlags.None),
        };

        if (frameSequence.IsEmpty)
        {
            // Bytes are kept only where they can be needed again: a resend (read-only) or state replay.
            if (readOnly || kind != CommandKind.Normal)
            {
                Keep(ref pending, frameSpan);
            }

            // The caller writes it, with the adjacent frames of the batch.
        }
        else
        {
            if (readOnly || kind != CommandKind.Normal)
            {
                KeepSequence(ref pending, frameSequence);
            }

            Forward(frameSequence, backend.Output);
        }

        _pending.Enqueue(pending);
        return kind == CommandKind.Quit ? Submitted.Quit : Submitted.Backend;
    }

    private void Keep(ref PendingCommand pending, ReadOnlySpan<byte> frame)
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

    private void KeepSequence(ref PendingCommand pending, in ReadOnlySequence<byte> frame)
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

    /// <summary>
    /// Whether Redis flags the command read-only (and neither write nor blocking). Pipelines repeat a
    /// command, so the last plain command name and its answer are kept; containers (CONFIG GET) always look up.
    /// </summary>
    private bool IsReadOnly(ReadOnlySpan<byte> name, ReadOnlySpan<byte> argument, bool hasArgument)
    {
        if (name.SequenceEqual(_lastName.AsSpan(0, _lastNameLength)))
        {
            return _lastReadOnly;
        }

        var spec = FindSpec(name, argument, hasArgument);
        var readOnly = spec is not null && spec.HasFlag(CommandSpecFlags.ReadOnly)
            && (spec.Flags & (CommandSpecFlags.Write | CommandSpecFlags.Blocking)) == 0;
        if (spec is { IsContainer: false } && name.Length <= _lastName.Length)
        {
            name.CopyTo(_lastName);
            _lastNameLength = name.Length;
            _lastReadOnly = readOnly;
        }

        return readOnly;
    }

    /// <summary>The command, or for a container such as CONFIG its subcommand, as <see cref="CommandCatalog.Find"/> finds it.</summary>
    private CommandSpec? FindSpec(ReadOnlySpan<byte> name, ReadOnlySpan<byte> argument, bool hasArgument)
    {
        var commands = _context.Commands;
        if (!commands.TryFind(name, out var spec))
        {
            return null;
        }

        if (!spec.IsContainer || !hasArgument || argument.IsEmpty)
        {
            return spec;
        }

        const int MaxSpanName = 64;
        if (name.Length + 1 + argument.Length > MaxSpanName)
        {
            // Rare (no known command is this long): the sequence lookup decides exactly.
            return commands.TryFind(new ReadOnlySequence<byte>(name.ToArray()), new ReadOnlySequence<byte>(argument.ToArray()), out var found) ? found : null;
        }

        Span<byte> full = stackalloc byte[MaxSpanName];
        name.CopyTo(full);
        full[name.Length] = (byte)'|';
        argument.CopyTo(full[(name.Length + 1)..]);
        return commands.TryFind(full[..(name.Length + 1 + argument.Length)], out var sub) ? sub : spec;
    }

    private CommandKind Classify(ReadOnlySpan<byte> name, ReadOnlySpan<byte> argument, int args, out int replies)
    {
        replies = 1;
        switch (name.Length)
        {
            case 4:
                if (Ascii.EqualsIgnoreCase(name, "AUTH"u8))
                {
                    return CommandKind.Auth;
                }

                if (Ascii.EqualsIgnoreCase(name, "EXEC"u8))
                {
                    return CommandKind.Exec;
                }

                if (Ascii.EqualsIgnoreCase(name, "QUIT"u8))
                {
                    return CommandKind.Quit;
                }

                break;
            case 5:
                if (Ascii.EqualsIgnoreCase(name, "HELLO"u8))
                {
                    return CommandKind.Hello;
                }

                if (Ascii.EqualsIgnoreCase(name, "MULTI"u8))
                {
                    return CommandKind.Multi;
                }

                if (Ascii.EqualsIgnoreCase(name, "RESET"u8))
                {
                    return CommandKind.Reset;
                }

                break;
            case 6:
                if (Ascii.EqualsIgnoreCase(name, "SELECT"u8))
                {
                    return CommandKind.Select;
                }

                if (args >= 2 && Ascii.EqualsIgnoreCase(name, "CLIENT"u8) && Ascii.EqualsIgnoreCase(argument, "SETNAME"u8))
                {
                    return CommandKind.ClientSetName;
                }

                break;
            case 7:
                if (Ascii.EqualsIgnoreCase(name, "DISCARD"u8))
                {
                    return CommandKind.Discard;
                }

                if (Ascii.EqualsIgnoreCase(name, "MONITOR"u8))
                {
                    return CommandKind.Monitor;
                }

                if (args >= 1 && Ascii.EqualsIgnoreCase(name, "CLUSTER"u8))
                {
                    if (Ascii.EqualsIgnoreCase(argument, "NODES"u8))
                    {
                        return CommandKind.ClusterNodes;
                    }

                    if (Ascii.EqualsIgnoreCase(argument, "SLOTS"u8))
                    {
                        return CommandKind.ClusterSlots;
                    }

                    if (Ascii.EqualsIgnoreCase(argument, "SHARDS"u8))
                    {
                        return CommandKind.ClusterShards;
                    }
                }

                break;
            case 8:
                if (Ascii.EqualsIgnoreCase(name, "READONLY"u8))
                {
                    return CommandKind.ReadOnly;
                }

                break;
            case 9:
                if (Ascii.EqualsIgnoreCase(name, "READWRITE"u8))
                {
                    return CommandKind.ReadWrite;
                }

                if (Ascii.EqualsIgnoreCase(name, "SUBSCRIBE"u8))
                {
                    replies = Math.Max(1, args);
                    return CommandKind.Subscribe;
                }

                break;
            case 10:
                if (Ascii.EqualsIgnoreCase(name, "PSUBSCRIBE"u8))
                {
                    replies = Math.Max(1, args);
                    return CommandKind.PSubscribe;
                }

                if (Ascii.EqualsIgnoreCase(name, "SSUBSCRIBE"u8))
                {
                    replies = Math.Max(1, args);
                    return CommandKind.SSubscribe;
                }

                break;
            case 11:
                if (Ascii.EqualsIgnoreCase(name, "UNSUBSCRIBE"u8))
                {
                    replies = args > 0 ? args : _state.UnsubscribeAllReplies(CommandKind.Unsubscribe);
                    return CommandKind.Unsubscribe;
                }

                break;
            case 12:
                if (Ascii.EqualsIgnoreCase(name, "PUNSUBSCRIBE"u8))
                {
                    replies = args > 0 ? args : _state.UnsubscribeAllReplies(CommandKind.PUnsubscribe);
                    return CommandKind.PUnsubscribe;
                }

                if (Ascii.EqualsIgnoreCase(name, "SUNSUBSCRIBE"u8))
                {
                    replies = args > 0 ? args : _state.UnsubscribeAllReplies(CommandKind.SUnsubscribe);
                    return CommandKind.SUnsubscribe;
                }

                break;
        }

        return CommandKind.Normal;
    }

    // ---------------------------------------------------------------- backend → client

    private async Task PumpAsync()
    {
        var output = _client.Transport.Output;
        while (!_aborted.IsCancellationRequested)
        {
            // Taken before any check, so a Wake() after this point is never lost.
            var wakeSource = Volatile.Read(ref _wake);
            var drained = DrainLocalReplies(output);
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
                await MoveIfMasterChangedAsync(output);
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

            var alive = await ReadRepliesOnceAsync(backend, output);
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
                        await LoseBackendLockedAsync(backend, output);
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
    private async ValueTask<bool> ReadRepliesOnceAsync(BackendConnection backend, PipeWriter output)
    {
        ReadResult result;
        try
        {
            result = await backend.Input.ReadAsync();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_aborted.IsCancellationRequested)
        {
            ShardSessionLog.BackendLost(_logger, Id, _groupId, backend.Endpoint.ToString(), ex.Message);
            return false;
        }

        var buffer = result.Buffer;
        var consumed = buffer.Start;
        bool corrupt;
        bool wrote;
        try
        {
            wrote = ProcessReplies(buffer, output, ref consumed, out corrupt);
        }
        finally
        {
            backend.Input.AdvanceTo(consumed, buffer.End);
        }

        wrote |= DrainLocalReplies(output);
        GiveBackCredits();
        if (wrote && !await FlushClientAsync(output))
        {
            _clientDone = true;
        }

        if (corrupt)
        {
            ShardSessionLog.BackendLost(_logger, Id, _groupId, backend.Endpoint.ToString(), "malformed reply");
            return false;
        }

        if (result.IsCompleted)
        {
            if (!_quitReplied)
            {
                ShardSessionLog.BackendLost(_logger, Id, _groupId, backend.Endpoint.ToString(), "connection closed");
            }

            return false;
        }

        return true;
    }

    private bool ProcessReplies(ReadOnlySequence<byte> buffer, PipeWriter output, ref SequencePosition consumed, out bool corrupt)
    {
        corrupt = false;
        var wrote = false;
        var snapshot = _context.Monitor.Current;
        var reader = new SequenceReader<byte>(buffer.Slice(consumed));
        try
        {
            while (true)
            {
                wrote |= DrainLocalReplies(output);
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
                var status = RespFrameScanner.TryScan(ref reader, _context.Limits, ref _replyScan, out _);
                if (status != RespScanStatus.Complete)
                {
                    // Incomplete: the scan state resumes from the frame start next time.
                    reader = start;
                    corrupt = status == RespScanStatus.Error;
                    return wrote;
                }

                HandleFrame(start.UnreadSequence.Slice(0, reader.Consumed - start.Consumed), output, snapshot);
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
        var limits = _context.Limits;
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

    private void HandleFrame(ReadOnlySequence<byte> frame, PipeWriter output, TopologySnapshot snapshot)
    {
        ref var head = ref _pending.PeekHead();
        if (Unsafe.IsNullRef(ref head) || (_state.Monitoring && !head.IsInternal) || RespPushes.IsUnsolicited(frame, _state.HasSubscriptions || IsSubscribeFamily(head.Kind)))
        {
            Forward(frame, output);
            return;
        }

        var isError = frame.FirstSpan[0] == (byte)'-';
        if (!head.IsInternal)
        {
            if (isError)
            {
                WriteError(frame, output, snapshot);
            }
            else if (_context.Options.RewriteRedirects && head.Kind is CommandKind.ClusterNodes or CommandKind.ClusterSlots or CommandKind.ClusterShards)
            {
                WriteRewrittenTopology(frame, head.Kind, output, snapshot);
            }
            else
            {
                Forward(frame, output);
            }
        }
        else if (isError)
        {
            ShardSessionLog.ReplayFailed(_logger, Id, Encoding.UTF8.GetString(frame).TrimEnd());
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
            Recycle(in head);
            _pending.DequeueHead();
        }
    }

    private void WriteError(ReadOnlySequence<byte> frame, PipeWriter output, TopologySnapshot snapshot)
    {
        var kind = ReplyErrors.Classify(frame);
        if (kind is ErrorKind.Moved or ErrorKind.Ask)
        {
            _context.Monitor.RequestRefresh(kind == ErrorKind.Moved ? "MOVED on a shard port" : "ASK on a shard port");
            if (_context.Options.RewriteRedirects && TryRewriteRedirect(frame, output, snapshot))
            {
                return;
            }
        }
        else if (kind is ErrorKind.ReadOnly or ErrorKind.MasterDown or ErrorKind.ClusterDown)
        {
            // The backend is not (or no longer) a serving master: look again and move if it changed.
            _context.Monitor.RequestRefresh("backend answered " + kind);
            _moveRequested = true;
        }

        Forward(frame, output);
    }

    private bool TryRewriteRedirect(ReadOnlySequence<byte> frame, PipeWriter output, TopologySnapshot snapshot)
    {
        var payload = frame.Slice(1, frame.Length - 3);
        if (!Redirect.TryParse(payload, out var isAsk, out var slot, out var target))
        {
            return false;
        }

        var group = snapshot.GroupByAnnouncedEndpoint(target) ?? (isAsk ? null : snapshot.GroupForSlot(slot));
        if (group is null || _context.PortOf(group.Id) is not { } port)
        {
            return false;
        }

        ReplyRewriter.WriteRedirect(output, isAsk, slot, new NodeEndpoint(_context.Options.AnnounceHost, port));
        return true;
    }

    private void WriteRewrittenTopology(ReadOnlySequence<byte> frame, CommandKind kind, PipeWriter output, TopologySnapshot snapshot)
    {
        var reader = new SequenceReader<byte>(frame);
        if (RespValue.TryRead(ref reader, _context.Limits, out var value, out _) != RespScanStatus.Complete || value is null)
        {
            Forward(frame, output);
            return;
        }

        var map = _context.AddressMap(snapshot);
        var rewritten = kind switch
        {
            CommandKind.ClusterNodes => ReplyRewriter.RewriteClusterNodes(value, map),
            CommandKind.ClusterSlots => ReplyRewriter.RewriteClusterSlots(value, map),
            _ => ReplyRewriter.RewriteClusterShards(value, map),
        };
        RespWriter.WriteValue(output, rewritten);
    }

    private static void Forward(in ReadOnlySequence<byte> frame, PipeWriter output)
    {
        foreach (var segment in frame)
        {
            output.Write(segment.Span);
        }
    }

    private bool DrainLocalReplies(PipeWriter output)
    {
        var wrote = false;
        while (true)
        {
            ref var head = ref _pending.PeekHead();
            if (Unsafe.IsNullRef(ref head) || head.LocalReply is not { } reply)
            {
                return wrote;
            }

            output.Write(reply);
            Recycle(in head);
            _pending.DequeueHead();
            wrote = true;
        }
    }

    private async Task<bool> FlushClientAsync(PipeWriter output)
    {
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

    // ---------------------------------------------------------------- failover

    /// <summary>The backend died. Caller holds the send lock and is the pump.</summary>
    private async Task LoseBackendLockedAsync(BackendConnection lost, PipeWriter output)
    {
        // A master going away may still accept connections for a moment: do not go back to it until a snapshot
        // newer than this one (a refresh is requested just below) still shows it up.
        var lostAt = _context.Monitor.Current.Version;
        Volatile.Write(ref _backend, null);
        lost.Abort();
        await lost.DisposeAsync();
        _replyScan.Reset();
        _context.Monitor.RequestRefresh($"backend connection to {lost.Endpoint} lost");
        _state.OnBackendLost();

        var outcomeUnknown = GatewayReplies.OutcomeUnknown(lost.Endpoint.ToString());
        var entries = new List<PendingCommand>();
        while (_pending.TryDequeue(out var p))
        {
            if (p.LocalReply is not null)
            {
                entries.Add(p);
            }
            else if (p.IsInternal)
            {
                // Replay commands point at the state's own arrays: nothing to release but a credit (none).
                Recycle(in p);
            }
            else if ((p.IsReadOnly || IsSubscribeFamily(p.Kind)) && p.Kind != CommandKind.Monitor)
            {
                // Read-only (or idempotent subscribe): safe to send again on the new master.
                p.RepliesLeft = Math.Max(p.RepliesLeft, 1);
                entries.Add(p);
            }
            else
            {
                p.LocalReply = outcomeUnknown;
                entries.Add(p);
            }
        }

        // Errors at the head of the order can go out now, before the (bounded) wait for a master.
        var flushedHead = 0;
        while (flushedHead < entries.Count && entries[flushedHead].LocalReply is { } reply)
        {
            output.Write(reply);
            Recycle(entries[flushedHead]);
            flushedHead++;
        }

        GiveBackCredits();
        if (flushedHead > 0)
        {
            await FlushClientAsync(output);
        }

        var acquired = !_clientDone && await AcquireBackendLockedAsync(lost.NodeId, lostAt);
        var backend = Volatile.Read(ref _backend);
        var noMaster = NoMaster();
        for (var i = flushedHead; i < entries.Count; i++)
        {
            var p = entries[i];
            if (p.LocalReply is null)
            {
                if (acquired && backend is not null)
                {
                    backend.Output.Write(p.Request);
                }
                else
                {
                    p.LocalReply = noMaster;
                }
            }

            _pending.Enqueue(p);
        }

        if (acquired && backend is not null)
        {
            try
            {
                await backend.Output.FlushAsync(_aborted.Token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Seen again by the next read.
            }
        }
    }

    /// <summary>Planned move: the group's confirmed master is another node while ours still answers.</summary>
    private async Task MoveIfMasterChangedAsync(PipeWriter output)
    {
        var current = Volatile.Read(ref _backend);
        var target = _context.Monitor.Current.GroupById(_groupId)?.RoutableMaster;
        if (current is null || target is null || target.Id == current.NodeId)
        {
            return;
        }

        await _sendLock.WaitAsync(_aborted.Token);
        try
        {
            if (!ReferenceEquals(Volatile.Read(ref _backend), current))
            {
                return;
            }

            if (_context.Monitor.Current.NodeById(current.NodeId) is null or { IsDown: true })
            {
                // The old master is down (it may hang without closing its sockets): waiting for its replies
                // would only delay the move. What it had is lost like any crash.
                await LoseBackendLockedAsync(current, output);
                return;
            }

            // Let every reply of the old master arrive (bounded), so nothing is lost or resent.
            using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            using var wakeReader = drain.Token.Register(() => current.Input.CancelPendingRead());
            var alive = true;
            while (alive && HasBackendWork() && !drain.IsCancellationRequested)
            {
                alive = await ReadRepliesOnceAsync(current, output);
            }

            if (HasBackendWork() || !alive)
            {
                await LoseBackendLockedAsync(current, output);
                return;
            }

            ShardSessionLog.SessionMoved(_logger, Id, _groupId, current.Endpoint.ToString(), target.Connect.ToString());
            Volatile.Write(ref _backend, null);
            current.Abort();
            await current.DisposeAsync();
            _replyScan.Reset();
            _state.OnBackendLost();
            await AcquireBackendLockedAsync();
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private bool HasBackendWork() => _pending.AnyAwaitingBackend();

    /// <summary>
    /// Connects to the group's confirmed master, waiting for one up to the hold time. Replays the
    /// connection state as internal commands. Caller holds the send lock.
    /// </summary>
    /// <param name="avoidNode">A node just lost: not connected to again unless a snapshot newer than <paramref name="lostAt"/> still names it.</param>
    private async Task<bool> AcquireBackendLockedAsync(string? avoidNode = null, long lostAt = -1)
    {
        var options = _context.Options;
        var monitor = _context.Monitor;
        var time = _context.TimeProvider;
        var deadline = time.GetUtcNow() + options.HoldTimeout;
        string? failedNode = null;
        var failedVersion = -1L;
        while (!_stopping && !_aborted.IsCancellationRequested)
        {
            var next = monitor.NextSnapshotAsync(_aborted.Token);
            var snapshot = monitor.Current;
            var master = snapshot.GroupById(_groupId)?.RoutableMaster;
            if (master is not null && !(master.Id == failedNode && snapshot.Version == failedVersion)
                && !(master.Id == avoidNode && snapshot.Version <= lostAt))
            {
                try
                {
                    var backend = await _context.Connector.ConnectAsync(master.Id, master.Connect, options.ConnectTimeout, _aborted.Token);
                    Volatile.Write(ref _backend, backend);
                    _replyScan.Reset();
                    WriteReplay(backend);
                    await backend.Output.FlushAsync(_aborted.Token);
                    ShardSessionLog.BackendConnected(_logger, Id, _groupId, master.Connect.ToString());
                    Wake();
                    return true;
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !_aborted.IsCancellationRequested)
                {
                    Volatile.Write(ref _backend, null);
                    failedNode = master.Id;
                    failedVersion = snapshot.Version;
                    monitor.RequestRefresh($"connect to master {master.Connect} failed: {ex.Message}");
                }
            }

            var remaining = deadline - time.GetUtcNow();
            if (remaining <= TimeSpan.Zero)
            {
                break;
            }

            try
            {
                await next.WaitAsync(remaining, time, _aborted.Token);
            }
            catch (TimeoutException)
            {
                break;
            }
        }

        ShardSessionLog.HoldExpired(_logger, Id, _groupId, options.HoldTimeout.TotalMilliseconds);
        return false;
    }

    private void WriteReplay(BackendConnection backend)
    {
        foreach (var (bytes, kind, replies) in _state.ReplayCommands(_context.Options.User, _context.Options.Password))
        {
            // The state's arrays are never changed once recorded, so the command points at them.
            _pending.Enqueue(new PendingCommand
            {
                Bytes = bytes,
                Length = bytes.Length,
                Kind = kind,
                RepliesLeft = replies,
                Flags = PendingFlags.Internal,
            });
            backend.Output.Write(bytes);
        }
    }

    // ---------------------------------------------------------------- helpers

    private static bool IsSubscribeFamily(CommandKind kind) =>
        kind is CommandKind.Subscribe or CommandKind.PSubscribe or CommandKind.SSubscribe
            or CommandKind.Unsubscribe or CommandKind.PUnsubscribe or CommandKind.SUnsubscribe;

    private void EnqueueLocal(byte[] reply)
    {
        _pending.Enqueue(PendingCommand.Local(reply));
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
        Interlocked.Add(ref _inFlight, -freed);
        if (Volatile.Read(ref _creditWaiter) is not null)
        {
            Interlocked.Exchange(ref _creditWaiter, null)?.TrySetResult();
        }
    }

    private async ValueTask WaitForCreditAsync()
    {
        while (Volatile.Read(ref _inFlight) >= _maxInFlight)
        {
            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _creditWaiter, waiter);
            if (Volatile.Read(ref _inFlight) < _maxInFlight)
            {
                return;
            }

            await waiter.Task.WaitAsync(_aborted.Token);
        }
    }

    private void Wake()
    {
        Volatile.Read(ref _wake).TrySetResult();
        Volatile.Read(ref _backend)?.Input.CancelPendingRead();
    }

    private byte[] NoMaster() => GatewayReplies.NoMaster(
        string.Create(System.Globalization.CultureInfo.InvariantCulture, $"shard group {_groupId}"), _context.Options.HoldTimeout);

    public void Dispose()
    {
        _request.Dispose();
        _aborted.Dispose();
        _sendLock.Dispose();
    }
}
