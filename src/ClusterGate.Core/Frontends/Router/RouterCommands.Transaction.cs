using System.Buffers;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Routing.Dispatch;

namespace ClusterGate.Core.Frontends.Router;

internal static partial class RouterCommands
{
    /// <summary>
    /// MULTI, EXEC, DISCARD, WATCH, UNWATCH. A transaction is queued by the gateway (<c>+QUEUED</c>) and sent at EXEC
    /// as one batch to the master of its keys' slot: on the shared connection, where written contiguously it runs as one
    /// transaction, or on the client's own connection when it watched keys (WATCH must run where EXEC runs).
    /// </summary>
    private static CommandOutcome TransactionCommand(RouterSession session, RespRequest request, CommandSpec spec)
    {
        switch (spec.Name)
        {
            case "multi":
                session.Answer(session.NewSlot(), session.Transaction is null ? GatewayReplies.Ok : GatewayReplies.NestedMulti);
                session.Transaction ??= new RouterTransaction();
                return CommandOutcome.Done;
            case "exec":
                Exec(session);
                return CommandOutcome.Done;
            case "discard":
                Discard(session);
                return CommandOutcome.Done;
            case "watch":
                return Watch(session, request, spec);
            default:
                Unwatch(session, session.NewSlot());
                return CommandOutcome.Done;
        }
    }

    /// <summary>A command between MULTI and EXEC: queued for the batch, or refused (which aborts the transaction, as in Redis).</summary>
    private static void QueueInTransaction(RouterSession session, RespRequest request, CommandSpec? spec)
    {
        var transaction = session.Transaction!;
        var slot = session.NewSlot();
        byte[]? refusal = null;
        var hashSlot = -1;
        if (spec is null)
        {
            refusal = GatewayReplies.UnknownCommand(request);
        }
        else if (spec.Arity > 0 ? request.Count != spec.Arity : request.Count < -spec.Arity)
        {
            refusal = GatewayReplies.WrongArity(spec.Name);
        }
        else if (!CanQueue(spec))
        {
            refusal = GatewayReplies.NotInTransaction(spec.Name.Replace('|', ' ').ToUpperInvariant());
        }
        else if (!KeyFinder.TryGetSlot(request, spec, out hashSlot, out var crossSlot, out var keyless))
        {
            refusal = KeysNotFound(request, spec);
        }
        else if (crossSlot)
        {
            refusal = GatewayReplies.CrossSlot;
        }
        else if (keyless)
        {
            hashSlot = -1;
        }

        if (refusal is not null)
        {
            transaction.Dirty = true;
            session.Answer(slot, refusal);
            return;
        }

        var master = hashSlot >= 0 ? session.Context.Dispatcher.Monitor.Current.GroupForSlot(hashSlot)?.Master?.Id : null;
        transaction.Queue(request.ArrayFrame, hashSlot, master);
        session.Answer(slot, GatewayReplies.Queued);
    }

    /// <summary>What may run inside a transaction batch on one master's connection. Blocking commands do not block inside MULTI.</summary>
    private static bool CanQueue(CommandSpec spec) => spec.Traits.Router switch
    {
        RouterDisposition.Shared or RouterDisposition.Split => true,
        RouterDisposition.Dedicated => spec.HasFlag(CommandSpecFlags.Blocking),
        RouterDisposition.Local => spec.Name is "ping" or "echo",
        _ => false,
    };

    private static void Exec(RouterSession session)
    {
        var slot = session.NewSlot();
        if (session.Transaction is not { } transaction)
        {
            session.Answer(slot, GatewayReplies.ExecWithoutMulti);
            return;
        }

        session.Transaction = null;
        var watch = session.WatchLink;
        session.WatchLink = null;
        if (transaction.Dirty || transaction.CrossSlot)
        {
            session.Answer(slot, transaction.Dirty ? GatewayReplies.ExecAbortedByErrors : GatewayReplies.CrossSlot);
            if (watch is not null)
            {
                _ = session.CloseLinkAsync(watch);
            }

            return;
        }

        if (watch is not null)
        {
            _ = ExecWatchedAsync(session, watch, transaction, slot);
            return;
        }

        if (transaction.Slot >= 0 && session.Context.Dispatcher.Monitor.Current.GroupForSlot(transaction.Slot)?.Master?.Id != transaction.MasterId)
        {
            session.Answer(slot, GatewayReplies.ExecAbortedByFailover);
            return;
        }

        var routed = new RoutedCommand(transaction.Batch(), transaction.Slot, readOnly: false, session.Id, slot)
        {
            Replies = transaction.Replies,
            Protocol = session.Protocol,
        };
        session.Sent(session.Context.Dispatcher.Route(routed));
    }

    /// <summary>
    /// A watched transaction runs on the link WATCH ran on, after WATCH's reply. When that link lost its connection
    /// meanwhile (a failover), the watch is gone with it: the transaction is aborted, never run unwatched.
    /// </summary>
    private static async Task ExecWatchedAsync(RouterSession session, RouterLink watch, RouterTransaction transaction, ReplySlot slot)
    {
        try
        {
            await session.WatchReplied;
            if (watch.Connections != session.WatchConnections)
            {
                slot.SetReply(GatewayReplies.ExecAbortedByFailover, null);
                return;
            }

            if (transaction.Slot >= 0 && session.Context.Dispatcher.Monitor.Current.GroupForSlot(transaction.Slot)?.Id is { } group && group != watch.GroupId)
            {
                slot.SetReply(GatewayReplies.CrossSlot, null);
                return;
            }

            // MULTI's +OK and the +QUEUED replies were given by the gateway already: only EXEC's reply goes to the client.
            var batch = transaction.Batch();
            var reply = await watch.SendAsync(batch, CommandKind.Normal, transaction.Replies, readOnly: false, slot: null);
            slot.SetReply(LastFrame(reply), null);
        }
        finally
        {
            await session.CloseLinkAsync(watch);
        }
    }

    private static void Discard(RouterSession session)
    {
        var slot = session.NewSlot();
        if (session.Transaction is null)
        {
            session.Answer(slot, GatewayReplies.DiscardWithoutMulti);
            return;
        }

        // DISCARD also forgets the watched keys.
        session.Transaction = null;
        if (session.WatchLink is { } watch)
        {
            session.WatchLink = null;
            _ = session.CloseLinkAsync(watch);
        }

        session.Answer(slot, GatewayReplies.Ok);
    }

    /// <summary>
    /// WATCH runs on a connection of the client's own to the master of the keys' slot, after everything the client
    /// sent before has run (so the watch sees its own earlier writes); the transaction that follows goes there too.
    /// </summary>
    private static CommandOutcome Watch(RouterSession session, RespRequest request, CommandSpec spec)
    {
        if (session.Transaction is not null)
        {
            session.Answer(session.NewSlot(), GatewayReplies.WatchInsideMulti);
            return CommandOutcome.Done;
        }

        if (!session.IsQuiet)
        {
            session.WaitBeforeNext(session.QuietAsync());
            return CommandOutcome.Retry;
        }

        var slot = session.NewSlot();
        if (!KeyFinder.TryGetSlot(request, spec, out var hashSlot, out var crossSlot, out _) || crossSlot)
        {
            session.Answer(slot, GatewayReplies.CrossSlot);
            return CommandOutcome.Done;
        }

        var group = session.Context.Dispatcher.Monitor.Current.GroupForSlot(hashSlot)?.Id;
        if (group is null || (session.WatchLink is { } current && current.GroupId != group))
        {
            session.Answer(slot, group is null ? GatewayReplies.NoMasterAnywhere : GatewayReplies.CrossSlot);
            return CommandOutcome.Done;
        }

        var link = session.WatchLink ?? session.OpenLink(group.Value);
        if (link is null)
        {
            session.Answer(slot, GatewayReplies.TooManyOwnConnections("WATCH"));
            return CommandOutcome.Done;
        }

        session.WatchLink = link;
        var reply = link.SendAsync(request.ArrayFrame.ToArray(), CommandKind.Normal, 1, readOnly: false, slot);
        session.WatchReplied = reply.ContinueWith(_ => session.WatchConnections = link.Connections, TaskScheduler.Default);
        return CommandOutcome.Done;
    }

    private static void Unwatch(RouterSession session, ReplySlot slot)
    {
        if (session.WatchLink is not { } watch || session.Transaction is not null)
        {
            session.Answer(slot, GatewayReplies.Ok);
            return;
        }

        session.WatchLink = null;
        _ = UnwatchAsync(session, watch, slot);
    }

    private static async Task UnwatchAsync(RouterSession session, RouterLink watch, ReplySlot slot)
    {
        // Closing the connection forgets the watch; the client gets Redis's answer to UNWATCH.
        await session.WatchReplied;
        await session.CloseLinkAsync(watch);
        slot.SetReply(GatewayReplies.Ok, null);
    }

    /// <summary>The last frame of several (EXEC's reply after MULTI's +OK and the +QUEUED ones).</summary>
    private static byte[] LastFrame(ReadOnlyMemory<byte> frames)
    {
        var sequence = new ReadOnlySequence<byte>(frames);
        var reader = new SequenceReader<byte>(sequence);
        var last = sequence;
        var state = default(RespScanState);
        while (!reader.End)
        {
            var start = reader.Position;
            if (RespFrameScanner.TryScan(ref reader, RespLimits.Replies, ref state, out _) != RespScanStatus.Complete)
            {
                break;
            }

            last = sequence.Slice(start, reader.Position);
        }

        return last.ToArray();
    }
}
