using System.Buffers;
using System.Text;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Routing.Dispatch;
using ClusterGate.Core.Routing.Merge;
using ClusterGate.Core.Routing.Scripts;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>What became of one command: handled, the session must stop reading (QUIT), or not run yet (it waits for a barrier).</summary>
internal enum CommandOutcome
{
    Done,
    Stop,
    Retry,
}

/// <summary>
/// What the router does with each command, by its disposition in the command table (<see cref="CommandTraits"/>):
/// answer it as a standalone Redis would, send it to the master of its slot, split it per slot, or send it to every
/// master (or node) and merge the replies by its response policy.
/// </summary>
internal static partial class RouterCommands
{
    /// <summary>Handles one command.</summary>
    public static CommandOutcome Execute(RouterSession session, RespRequest request)
    {
        var context = session.Context;
        var spec = context.Commands.Find(request);
        session.CommandClass = spec?.Traits.Class ?? Observability.CommandClass.Other;

        // Inside MULTI everything but the transaction commands is queued (or refused, which aborts the transaction).
        if (session.Transaction is not null && spec?.Traits.Router != RouterDisposition.Transaction)
        {
            QueueInTransaction(session, request, spec);
            return CommandOutcome.Done;
        }

        if (session.IsSubscribed && session.Protocol == 2 && !AllowedWhileSubscribed(spec))
        {
            session.Answer(session.NewSlot(), GatewayReplies.OnlySubscribeCommands(request.ArgumentToString(0)));
            return CommandOutcome.Done;
        }

        if (spec is null)
        {
            session.Answer(session.NewSlot(), GatewayReplies.UnknownCommand(request));
            return CommandOutcome.Done;
        }

        if (spec.Arity > 0 ? request.Count != spec.Arity : request.Count < -spec.Arity)
        {
            session.Answer(session.NewSlot(), GatewayReplies.WrongArity(spec.Name));
            return CommandOutcome.Done;
        }

        if (!session.Authenticated && (spec.Flags & CommandSpecFlags.NoAuth) == 0)
        {
            // Redis's order: an unknown command or a wrong arity is said first, then that the client has not authenticated.
            session.Answer(session.NewSlot(), GatewayReplies.NoAuth);
            return CommandOutcome.Done;
        }

        if (ScriptCache.BodyArgument(spec.Name) is var body and > 0 && body < request.Count)
        {
            context.Scripts.Remember(request.Argument(body));
        }

        var traits = spec.Traits;
        switch (traits.Router)
        {
            case RouterDisposition.Local:
                return AnswerLocal(session, request, spec);
            case RouterDisposition.Refused:
                session.Answer(session.NewSlot(), GatewayReplies.RefusedOnRouter(spec.Name.Replace('|', ' ').ToUpperInvariant()));
                return CommandOutcome.Done;
            case RouterDisposition.Transaction:
                return TransactionCommand(session, request, spec);
            case RouterDisposition.PubSub:
                return PubSub(session, request, spec);
            case RouterDisposition.Monitor:
                return Monitor(session);
            case RouterDisposition.Dedicated when !IsNonBlockingRead(request, spec):
                return Dedicated(session, request, spec);
            case RouterDisposition.Special:
                Special(session, request, spec, session.NewSlot());
                return CommandOutcome.Done;
            case RouterDisposition.AllMasters or RouterDisposition.AllNodes when ReplyMerge.For(traits.Response) is { } merge:
                var nodes = traits.Router == RouterDisposition.AllNodes ? AllNodes(session) : Masters(session);
                FanOut(session, session.NewSlot(), nodes, _ => request.ArrayFrame, merge, readOnly: traits.Resendable);
                return CommandOutcome.Done;
        }

        Route(session, request, spec);
        return CommandOutcome.Done;
    }

    /// <summary>Shared, split, and fan-outs whose merge the router does not have: routed by their keys, or to one master.</summary>
    private static void Route(RouterSession session, RespRequest request, CommandSpec spec)
    {
        var slot = session.NewSlot();
        if (spec.Name is "mset" or "msetnx" && (request.Count - 1) % 2 != 0)
        {
            session.Answer(slot, GatewayReplies.WrongArity(spec.Name));
            return;
        }

        if (!KeyFinder.TryGetSlot(request, spec, out var hashSlot, out var crossSlot, out var keyless))
        {
            session.Answer(slot, KeysNotFound(request, spec));
            return;
        }

        var readOnly = spec.HasFlag(CommandSpecFlags.ReadOnly) && !spec.HasFlag(CommandSpecFlags.Write);
        if (crossSlot)
        {
            if (!TrySplit(session, request, spec, slot))
            {
                session.Answer(slot, GatewayReplies.CrossSlot);
            }

            return;
        }

        // A keyless command names no node: the dispatcher picks a live master when it routes it (the same one for a
        // session while the topology stands), also when it waits for a master and is routed again.
        var routed = new RoutedCommand(request.ArrayFrame, keyless ? -1 : hashSlot, readOnly, session.Id, slot)
        {
            Protocol = session.Protocol,
            ScriptLoad = ScriptCache.ShaArgument(spec.Name) is var sha and > 0 ? session.Context.Scripts.LoadCommand(request.Argument(sha)) : null,
        };
        if (spec.Name == "publish" && PubSubHome(session) is { } home)
        {
            // Where every router subscriber listens: its count of receivers is what a single Redis would answer.
            routed.TargetNodeId = home.RoutableMaster!.Id;
            routed.TargetGroupId = home.Id;
        }

        session.Sent(session.Context.Dispatcher.Route(routed));
    }

    /// <summary>XREAD and XREADGROUP block only with BLOCK: without it they are plain reads of their slot.</summary>
    private static bool IsNonBlockingRead(RespRequest request, CommandSpec spec)
    {
        if (spec.Name is not ("xread" or "xreadgroup"))
        {
            return false;
        }

        for (var i = 1; i < request.Count; i++)
        {
            if (request.ArgumentEquals(i, "BLOCK"u8))
            {
                return false;
            }

            if (request.ArgumentEquals(i, "STREAMS"u8))
            {
                return true;
            }
        }

        return true;
    }

    /// <summary>
    /// The usual command, seen only by its head (<see cref="RespRequestHead"/>): a known command whose only
    /// key is its first argument, with a valid argument count, goes straight to its slot's master. False
    /// for everything else (the caller parses the request and runs <see cref="Execute"/>, which decides).
    /// None of the commands the gateway answers, splits, refuses or fans out has this key shape.
    /// </summary>
    public static bool TryRouteSingleKey(RouterSession session, ReadOnlySpan<byte> frame, ReadOnlySpan<byte> name, ReadOnlySpan<byte> key, int count)
    {
        var context = session.Context;
        if (!context.Commands.TryFind(name, out var spec) || !spec.KeyIsFirstArgumentOnly || spec.Traits.Router != RouterDisposition.Shared
            || (spec.Arity > 0 ? count != spec.Arity : count < -spec.Arity))
        {
            return false;
        }

        var readOnly = spec.HasFlag(CommandSpecFlags.ReadOnly) && !spec.HasFlag(CommandSpecFlags.Write);
        session.CommandClass = spec.Traits.Class;
        var routed = new RoutedCommand(frame, HashSlot.Compute(key), readOnly, session.Id, session.NewSlot()) { Protocol = session.Protocol };
        session.Sent(context.Dispatcher.Route(routed));
        return true;
    }

    /// <summary>
    /// The keys could not be found: Redis's own words where the request gives a bad key count (EVAL, FCALL, ZUNION...),
    /// else the gateway's.
    /// </summary>
    private static byte[] KeysNotFound(RespRequest request, CommandSpec spec)
    {
        if (spec.Name is "eval" or "evalsha" or "eval_ro" or "evalsha_ro" or "fcall" or "fcall_ro" && request.Count > 2)
        {
            if (!request.TryGetArgumentInt64(2, out var numkeys))
            {
                return GatewayReplies.Error("ERR value is not an integer or out of range");
            }

            return numkeys < 0
                ? GatewayReplies.Error("ERR Number of keys can't be negative")
                : GatewayReplies.Error("ERR Number of keys can't be greater than number of args");
        }

        return GatewayReplies.KeysNotFound(spec.Name);
    }

    // ------------------------------------------------------------ helpers

    internal static byte[] Bulk(string text) => Bulk(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(text)));

    internal static byte[] Bulk(in ReadOnlySequence<byte> payload)
    {
        var writer = new ArrayBufferWriter<byte>((int)payload.Length + 16);
        RespWriter.WriteBulkString(writer, payload);
        return writer.WrittenSpan.ToArray();
    }
}
