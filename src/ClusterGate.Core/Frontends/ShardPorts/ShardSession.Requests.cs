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

internal sealed partial class ShardSession
{
    private async Task ClientLoopAsync()
    {
        var input = _client.Transport.Input;
        while (true)
        {
            var result = await input.ReadAsync();
            var buffer = result.Buffer;
            var consumed = buffer.Start;
            // One read in SampleEvery is timed, through its first command sent to the master (none left from an earlier read).
            _sampleReadAt = _context.Stats.SampleRead(ref _sampleCountdown);

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
                _context.Stats.BytesIn.Add(buffer.Slice(buffer.Start, consumed).Length);
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
                && _authenticated
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
                    if (_context.ProtocolErrors.TryAcquire(out var suppressed))
                    {
                        ShardSessionLog.ProtocolError(_logger, Id, _client.RemoteEndPoint?.ToString() ?? "?", error ?? "?", suppressed);
                    }

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

                if (!_authenticated && RefuseUnauthenticated(out var refusedSpec) is { } refused)
                {
                    _groupStats.Received(refusedSpec?.Traits.Class ?? Observability.CommandClass.Other).Increment();
                    _link.EnqueueLocal(refused);
                    submitted = Submitted.Local;
                }
                else
                {
                    var name = Head(_request.Argument(0), nameScratch);
                    var argument = _request.Count > 1 ? Head(_request.Argument(1), argumentScratch) : default;
                    submitted = Submit(default, _request.ArrayFrame, name, argument, _request.Count - 1, backend);
                }
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
        var kind = Classify(name, argument, args, out var replies, out var readOnly, out var commandClass);
        _groupStats.Received(commandClass).Increment();
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

        if (kind == CommandKind.Reset)
        {
            // Sent: back to the default user, as in Redis, unauthenticated again when the gateway has a password.
            _authenticated = _context.Options.Password is null;
            _resetsSent++;
        }

        var pending = new PendingCommand
        {
            Kind = kind,
            RepliesLeft = replies,
            Flags = PendingFlags.HoldsCredit | (readOnly ? PendingFlags.ReadOnly : PendingFlags.None),
        };

        if (_sampleReadAt != 0)
        {
            pending.ReadAt = _sampleReadAt;
            pending.SentAt = System.Diagnostics.Stopwatch.GetTimestamp();
            _sampleReadAt = 0;
        }

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
    /// Before the client has authenticated (the gateway has a password; see <see cref="ClientAuth"/>): the reply that
    /// refuses <see cref="_request"/>, or null to send it on. Refused in Redis's order and words: an unknown command, a
    /// wrong arity, then NOAUTH (answered here: the backend connection is the gateway's, authenticated, and would run
    /// what it knows, a command loaded after the gateway's table included). Sent on: the <c>no_auth</c> commands, and
    /// AUTH or HELLO AUTH. With the gateway's credentials these authenticate the session at once (a client may pipeline
    /// behind them); with others (another ACL user) Redis decides, and the session is authenticated once it said yes.
    /// </summary>
    private byte[]? RefuseUnauthenticated(out CommandSpec? spec)
    {
        spec = null;
        if (_link.State.ClientAuthenticated(_resetsSent))
        {
            _authenticated = true;
            return null;
        }

        spec = _context.Commands.Find(_request);
        if (spec is null)
        {
            return GatewayReplies.UnknownCommand(_request);
        }

        if (spec.Arity > 0 ? _request.Count != spec.Arity : _request.Count < -spec.Arity)
        {
            return GatewayReplies.WrongArity(spec.Name);
        }

        var options = _context.Options;
        switch (spec.Name)
        {
            case "auth":
                _authenticated = ClientAuth.Matches(options.User, options.Password, _request.Count > 2 ? _request.ArgumentToString(1) : null, _request.ArgumentToString(_request.Count - 1));
                return null;
            case "hello":
                for (var i = 2; i + 2 < _request.Count; i++)
                {
                    if (_request.ArgumentEquals(i, "AUTH"u8))
                    {
                        _authenticated = ClientAuth.Matches(options.User, options.Password, _request.ArgumentToString(i + 1), _request.ArgumentToString(i + 2));
                        return null;
                    }
                }

                return GatewayReplies.NoAuthHello;
            default:
                return (spec.Flags & CommandSpecFlags.NoAuth) != 0 ? null : GatewayReplies.NoAuth;
        }
    }

    /// <summary>
    /// The command's traits (<see cref="CommandTraits"/>, the table both frontends share): its effect on the
    /// connection, and whether it may be sent again. Pipelines repeat a command, so the last plain command name and
    /// its traits are kept; containers (CONFIG GET) always look up, since the name alone does not decide (a
    /// pipelined CLUSTER SLOTS, CLUSTER NODES must not rewrite the second reply as the first).
    /// </summary>
    private CommandKind Classify(ReadOnlySpan<byte> name, ReadOnlySpan<byte> argument, int args, out int replies, out bool readOnly, out Observability.CommandClass commandClass)
    {
        CommandTraits traits;
        if (name.SequenceEqual(_lastName.AsSpan(0, _lastNameLength)))
        {
            traits = _lastTraits;
        }
        else
        {
            var spec = FindSpec(name, argument, args > 0, out var isContainer);
            traits = spec?.Traits ?? CommandTraits.Unknown;
            if (spec is not null && !isContainer && name.Length <= _lastName.Length)
            {
                name.CopyTo(_lastName);
                _lastNameLength = name.Length;
                _lastTraits = traits;
            }
        }

        readOnly = traits.Resendable;
        commandClass = traits.Class;
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
    private CommandSpec? FindSpec(ReadOnlySpan<byte> name, ReadOnlySpan<byte> argument, bool hasArgument, out bool isContainer)
    {
        var commands = _context.Commands;
        if (!commands.TryFind(name, out var spec))
        {
            isContainer = false;
            return null;
        }

        isContainer = spec.IsContainer;
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
}
