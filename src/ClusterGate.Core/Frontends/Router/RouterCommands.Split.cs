using System.Buffers;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Routing.Dispatch;
using ClusterGate.Core.Routing.Split;

namespace ClusterGate.Core.Frontends.Router;

internal static partial class RouterCommands
{
    /// <summary>
    /// A multi-key command whose keys span slots (<see cref="KeySplit"/>): one command per slot, sent in parallel,
    /// merged in the client's order. False for commands that are not split (they get CROSSSLOT).
    /// </summary>
    private static bool TrySplit(RouterSession session, RespRequest request, CommandSpec spec, ReplySlot slot)
    {
        if (KeySplit.TryPlan(request, spec) is not { } split)
        {
            return false;
        }

        var readOnly = spec.HasFlag(CommandSpecFlags.ReadOnly) && !spec.HasFlag(CommandSpecFlags.Write);
        var gather = new GatherSink(slot, split.Parts, split.Merge);
        var writer = new ArrayBufferWriter<byte>(256);
        for (var part = 0; part < split.Parts; part++)
        {
            writer.ResetWrittenCount();
            split.WritePart(part, request, writer);
            var routed = new RoutedCommand(new ReadOnlySequence<byte>(writer.WrittenMemory), split.SlotOf(part), readOnly, session.Id, gather.Part(part));
            session.Sent(session.Context.Dispatcher.Route(routed));
        }

        return true;
    }
}
