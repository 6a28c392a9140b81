using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Backends.Links;
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
/// Two loops share the session. The client loop (here) parses requests, classifies each and hands it to the
/// session's <see cref="MasterLink"/>, which records it in the reply order and writes it to the group's master. The
/// link's pump is the only writer to the client and follows the master through failovers; it calls back into the
/// session (<see cref="WriteReply"/>) for the replies a shard port rewrites.
/// </remarks>
internal sealed partial class ShardSession : IClientSession, ILinkClient, IDisposable
{
    private readonly ConnectionContext _client;
    private readonly ShardPortContext _context;
    private readonly int _groupId;
    private readonly ILogger _logger;
    private readonly MasterLink _link;
    private readonly RespRequest _request = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] _lastName = new byte[32];
    private int _lastNameLength;
    private CommandTraits _lastTraits;

    /// <summary>The client closed or reset its connection (not QUIT, not a protocol error, not a shutdown).</summary>
    private volatile bool _clientGone;
    private volatile bool _stopping;

    public ShardSession(ConnectionContext client, ShardPortContext context, int groupId, long id)
    {
        _client = client;
        _context = context;
        _groupId = groupId;
        _logger = context.Logger;
        Id = id;
        _link = new MasterLink(groupId, id, context.Masters, context.Connector, context.LinkOptions, context.Logger, context.TimeProvider);
    }

    public long Id { get; }

    public Task Completion => _done.Task;

    public string? BackendNodeId => _link.NodeId;

    /// <summary>Where the link's pump writes replies: the client.</summary>
    public PipeWriter Output => _client.Transport.Output;

    /// <summary>The group's master changed: move to it once in-flight replies are in.</summary>
    public void RequestMove() => _link.RequestMove();

    /// <summary>Stop reading new commands; in-flight replies still drain.</summary>
    public void BeginShutdown()
    {
        _stopping = true;
        _client.Transport.Input.CancelPendingRead();
        _link.BeginShutdown();
    }

    /// <summary>Drop everything now (drain time is over).</summary>
    public void Abort()
    {
        if (_done.Task.IsCompleted)
        {
            return;
        }

        _client.Abort(new ConnectionAbortedException("the gateway is shutting down"));
        _link.Abort();
    }

    public async Task RunAsync()
    {
        ShardSessionLog.SessionStarted(_logger, Id, _groupId, _client.RemoteEndPoint?.ToString() ?? "?");
        var pump = Task.Run(() => _link.PumpAsync(this));
        var clientLoop = RunClientLoopAsync();
        if (await Task.WhenAny(pump, clientLoop) == pump)
        {
            // The pump ended first: the client is gone (or QUIT was answered). Stop reading requests that
            // nobody will see answered, even when the loop is waiting for in-flight credits.
            _link.Abort();
            _client.Transport.Input.CancelPendingRead();
        }

        await clientLoop;
        if (_clientGone)
        {
            // The client left: nobody will read what is pending, and a command still running on the backend
            // (BLPOP, a stalled inline request) must not outlive it. Closing the backend makes Redis drop it.
            _link.Abort();
        }
        else if (!_stopping && !pump.IsCompleted
            && await Task.WhenAny(pump, Task.Delay(_context.Options.DrainTimeout, _context.TimeProvider)) != pump)
        {
            // QUIT or a protocol error: earlier replies go out first, but a reply that never comes
            // (a blocked command) cannot keep the session.
            _link.Abort();
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
            await _link.DisposeAsync();
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
            _link.ClientDone = true;
        }
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
                if (_stopping || _link.ClientDone)
                {
                    return;
                }

                while (!_link.ClientDone)
                {
                    // Backpressure: at most MaxPendingPerSession commands of this client in flight.
                    await _link.WaitForCreditAsync();

                    await _link.LockAsync();
                    BatchOutcome outcome;
                    try
                    {
                        await _link.EnsureConnectedLockedAsync();
                        var backend = _link.Backend;
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
                            _link.Wake();
                        }
                    }
                    finally
                    {
                        _link.Unlock();
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
        var room = _link.Room;
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

            _link.TakeCredits(taken);
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
                    _link.EnqueueLocal(GatewayReplies.ProtocolError(error ?? "Protocol error"));
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
        var kind = Classify(name, argument, args, out var replies, out var readOnly);
        if (_link.State.MultiAborted)
        {
            _link.EnqueueLocal(kind switch
            {
                CommandKind.Exec => GatewayReplies.ExecAbortedByFailover,
                CommandKind.Discard => GatewayReplies.Ok,
                _ => GatewayReplies.TransactionLostByFailover,
            });
            if (kind is CommandKind.Exec or CommandKind.Discard)
            {
                _link.State.MultiAborted = false;
            }

            return Submitted.Local;
        }

        if (backend is null)
        {
            _link.EnqueueLocal(_link.NoMaster());
            return Submitted.Local;
        }

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
                _link.Keep(ref pending, frameSpan);
            }

            // The caller writes it, with the adjacent frames of the batch.
        }
        else
        {
            if (readOnly || kind != CommandKind.Normal)
            {
                _link.KeepSequence(ref pending, frameSequence);
            }

            MasterLink.Forward(frameSequence, backend.Output);
        }

        _link.Enqueue(pending);
        return kind == CommandKind.Quit ? Submitted.Quit : Submitted.Backend;
    }

    /// <summary>
    /// The command's traits (<see cref="CommandTraits"/>, the table both frontends share): its effect on the
    /// connection, and whether it may be sent again. Pipelines repeat a command, so the last plain command name and
    /// its traits are kept; containers (CONFIG GET) always look up.
    /// </summary>
    private CommandKind Classify(ReadOnlySpan<byte> name, ReadOnlySpan<byte> argument, int args, out int replies, out bool readOnly)
    {
        CommandTraits traits;
        if (name.SequenceEqual(_lastName.AsSpan(0, _lastNameLength)))
        {
            traits = _lastTraits;
        }
        else
        {
            var spec = FindSpec(name, argument, args > 0);
            traits = spec?.Traits ?? CommandTraits.Unknown;
            if (spec is { IsContainer: false } && name.Length <= _lastName.Length)
            {
                name.CopyTo(_lastName);
                _lastNameLength = name.Length;
                _lastTraits = traits;
            }
        }

        readOnly = traits.Resendable;
        replies = traits.Kind switch
        {
            // One confirmation per channel; without channels, one per current subscription (at least one).
            CommandKind.Subscribe or CommandKind.PSubscribe or CommandKind.SSubscribe => Math.Max(1, args),
            CommandKind.Unsubscribe or CommandKind.PUnsubscribe or CommandKind.SUnsubscribe => args > 0 ? args : _link.State.UnsubscribeAllReplies(traits.Kind),
            _ => 1,
        };
        return traits.Kind;
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

    /// <summary>The link's pump hands over a reply that may need more than forwarding (see <see cref="ILinkClient.WriteReply"/>).</summary>
    public void WriteReply(CommandKind kind, bool isError, in ReadOnlySequence<byte> frame)
    {
        var output = Output;
        var snapshot = _context.Monitor.Current;
        if (isError)
        {
            WriteError(frame, output, snapshot);
        }
        else if (_context.Options.RewriteRedirects && kind is CommandKind.ClusterNodes or CommandKind.ClusterSlots or CommandKind.ClusterShards)
        {
            WriteRewrittenTopology(frame, kind, output, snapshot);
        }
        else
        {
            MasterLink.Forward(frame, output);
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
            _link.RequestMove();
        }

        MasterLink.Forward(frame, output);
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
            MasterLink.Forward(frame, output);
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

    public void Dispose() => _request.Dispose();
}
