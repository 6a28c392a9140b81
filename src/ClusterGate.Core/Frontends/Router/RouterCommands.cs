using System.Buffers;
using System.Text;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Routing.Dispatch;
using ClusterGate.Core.Routing.Merge;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>
/// What the router does with each command, by its disposition in the command table (<see cref="CommandTraits"/>):
/// answer it as a standalone Redis would, send it to the master of its slot, split it per slot, or send it to every
/// master (or node) and merge the replies by its response policy.
/// </summary>
internal static partial class RouterCommands
{
    /// <summary>Handles one command; true when the session must stop reading (QUIT).</summary>
    public static bool Execute(RouterSession session, RespRequest request)
    {
        var slot = session.NewSlot();
        var context = session.Context;
        var spec = context.Commands.Find(request);
        if (spec is null)
        {
            session.Answer(slot, GatewayReplies.UnknownCommand(Truncate(request.ArgumentToString(0)), ArgsPreview(request)));
            return false;
        }

        if (spec.Arity > 0 ? request.Count != spec.Arity : request.Count < -spec.Arity)
        {
            session.Answer(slot, GatewayReplies.WrongArity(spec.Name));
            return false;
        }

        var traits = spec.Traits;
        switch (traits.Router)
        {
            case RouterDisposition.Local:
                return AnswerLocal(session, request, spec, slot);
            case RouterDisposition.OwnConnection:
            case RouterDisposition.Refused:
                session.Answer(slot, Refusal(spec, request));
                return false;
            case RouterDisposition.Special:
                Special(session, request, spec, slot);
                return false;
            case RouterDisposition.AllMasters or RouterDisposition.AllNodes when ReplyMerge.For(traits.Response) is { } merge:
                var nodes = traits.Router == RouterDisposition.AllNodes ? AllNodes(session) : Masters(session);
                FanOut(session, slot, nodes, _ => request.ArrayFrame, merge, readOnly: traits.Resendable);
                return false;
        }

        // Shared, split, and fan-outs whose merge the router does not have: routed by their keys, or to one master.
        if (spec.Name is "mset" or "msetnx" && (request.Count - 1) % 2 != 0)
        {
            session.Answer(slot, GatewayReplies.WrongArity(spec.Name));
            return false;
        }

        if (!KeyFinder.TryGetSlot(request, spec, out var hashSlot, out var crossSlot, out var keyless))
        {
            session.Answer(slot, GatewayReplies.KeysNotFound(spec.Name));
            return false;
        }

        var readOnly = spec.HasFlag(CommandSpecFlags.ReadOnly) && !spec.HasFlag(CommandSpecFlags.Write);
        if (crossSlot)
        {
            if (!TrySplit(session, request, spec, slot))
            {
                session.Answer(slot, GatewayReplies.CrossSlot);
            }

            return false;
        }

        if (keyless)
        {
            SendToAnyMaster(session, request.ArrayFrame, readOnly, slot);
            return false;
        }

        var routed = new RoutedCommand(request.ArrayFrame, hashSlot, readOnly, session.Id, slot);
        session.Sent(context.Dispatcher.Route(routed));
        return false;
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
        var routed = new RoutedCommand(frame, HashSlot.Compute(key), readOnly, session.Id, session.NewSlot());
        session.Sent(context.Dispatcher.Route(routed));
        return true;
    }

    /// <summary>Why a command is not run through the router's shared connections.</summary>
    private static byte[] Refusal(CommandSpec spec, RespRequest request) =>
        spec.HasFlag(CommandSpecFlags.Blocking)
            ? GatewayReplies.RefusedOnSharedConnection(spec.Name, "blocks, which the router's shared connections cannot do; use a shard port for blocking commands")
            : spec.Name is "wait" or "waitaof"
                ? GatewayReplies.RefusedOnSharedConnection(spec.Name, "counts the replicas of this connection's writes, which the router's shared connections cannot do; use a shard port")
                : GatewayReplies.RefusedOnSharedConnection(request.ArgumentToString(0).ToUpperInvariant(), "needs a connection of its own, which the router does not give yet; use a shard port");

    /// <summary>
    /// A keyless command: no node is named, so the dispatcher picks a live master when it routes it (the
    /// same one for a session while the topology stands), also when it waits for a master and is routed again.
    /// </summary>
    private static void SendToAnyMaster(RouterSession session, in ReadOnlySequence<byte> command, bool readOnly, IReplySink sink)
    {
        var request = new RoutedCommand(command, -1, readOnly, session.Id, sink);
        session.Sent(session.Context.Dispatcher.Route(request));
    }

    // ------------------------------------------------------------ helpers

    internal static byte[] Bulk(string text) => Bulk(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(text)));

    internal static byte[] Bulk(in ReadOnlySequence<byte> payload)
    {
        var writer = new ArrayBufferWriter<byte>((int)payload.Length + 16);
        RespWriter.WriteBulkString(writer, payload);
        return writer.WrittenSpan.ToArray();
    }

    private static string Truncate(string text) => text.Length > 128 ? text[..128] : text;

    private static string ArgsPreview(RespRequest request)
    {
        var preview = new StringBuilder();
        for (var i = 1; i < request.Count && preview.Length < 128; i++)
        {
            preview.Append('\'').Append(Truncate(request.ArgumentToString(i))).Append("' ");
        }

        return preview.ToString();
    }
}
