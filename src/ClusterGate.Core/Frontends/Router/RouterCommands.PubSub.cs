using System.Buffers;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Routing.Commands;

namespace ClusterGate.Core.Frontends.Router;

internal static partial class RouterCommands
{
    private static readonly byte[] MonitorCommand = "*1\r\n$7\r\nMONITOR\r\n"u8.ToArray();

    /// <summary>
    /// The subscribe family, on the client's own subscriber connections: one for channels and patterns, on any master
    /// (the cluster carries every PUBLISH to every node), and one per shard group for shard channels (they live on the
    /// master of their slot). Those connections follow failovers and replay the subscriptions; messages published
    /// during the switch may be lost, as with Redis itself.
    /// </summary>
    private static CommandOutcome PubSub(RouterSession session, RespRequest request, CommandSpec spec)
    {
        var slot = session.NewSlot();
        var kind = spec.Traits.Kind;
        var channels = request.Count - 1;
        var command = request.ArrayFrame.ToArray();
        switch (kind)
        {
            case CommandKind.Subscribe or CommandKind.PSubscribe:
                if (SubscriberLink(session) is not { } link)
                {
                    session.Answer(slot, GatewayReplies.TooManyOwnConnections(spec.Name.ToUpperInvariant()));
                    return CommandOutcome.Done;
                }

                session.SubscribeInFlight = true;
                _ = link.SendAsync(command, kind, channels, readOnly: false, slot);
                return CommandOutcome.Done;

            case CommandKind.SSubscribe:
                if (ShardGroupOf(session, request) is not { } group)
                {
                    session.Answer(slot, GatewayReplies.CrossSlot);
                    return CommandOutcome.Done;
                }

                if (session.ShardSubscriberLink(group) is not { } shardLink)
                {
                    session.Answer(slot, GatewayReplies.TooManyOwnConnections("SSUBSCRIBE"));
                    return CommandOutcome.Done;
                }

                session.SubscribeInFlight = true;
                _ = shardLink.SendAsync(command, kind, channels, readOnly: false, slot);
                return CommandOutcome.Done;

            case CommandKind.Unsubscribe or CommandKind.PUnsubscribe:
                return Unsubscribe(session, slot, command, kind, channels, session.CurrentSubscriberLink is { } current ? [current] : [], request);

            default:
                IReadOnlyCollection<RouterLink> links = channels == 0
                    ? session.ShardSubscriberLinks
                    : ShardGroupOf(session, request) is { } channelGroup
                        ? session.ShardSubscriberLinks.Where(l => l.GroupId == channelGroup).ToList()
                        : [];
                return Unsubscribe(session, slot, command, kind, channels, links, request);
        }
    }

    /// <summary>
    /// UNSUBSCRIBE and friends: on the links that hold the subscriptions, one confirmation per channel; with no
    /// channel subscribed anywhere, the confirmation Redis gives. The client's next command waits for the confirmations,
    /// so it knows whether it is still in subscribed mode.
    /// </summary>
    private static CommandOutcome Unsubscribe(
        RouterSession session, ReplySlot slot, byte[] command, CommandKind kind, int channels, IReadOnlyCollection<RouterLink> links, RespRequest request)
    {
        var name = kind switch
        {
            CommandKind.PUnsubscribe => "punsubscribe",
            CommandKind.SUnsubscribe => "sunsubscribe",
            _ => "unsubscribe",
        };
        var active = links.Where(l => l.State.HasSubscriptions).ToList();
        if (active.Count == 0)
        {
            // Nothing subscribed: Redis answers each channel (or one null) with a count of zero.
            var writer = new ArrayBufferWriter<byte>();
            for (var i = 0; i < Math.Max(1, channels); i++)
            {
                WriteConfirmation(writer, session.Protocol, name, channels == 0 ? null : request.Argument(i + 1));
            }

            session.Answer(slot, writer.WrittenSpan.ToArray());
            return CommandOutcome.Done;
        }

        var replies = active.Select(l => l.SendAsync(command, kind, channels > 0 ? channels : l.State.UnsubscribeAllReplies(kind), readOnly: false, slot: null)).ToList();
        var all = Task.WhenAll(replies).ContinueWith(
            done =>
            {
                var writer = new ArrayBufferWriter<byte>();
                foreach (var reply in done.Result)
                {
                    writer.Write(reply.Span);
                }

                session.SubscribeInFlight = false;
                slot.SetReply(writer.WrittenSpan.ToArray(), null);
            },
            TaskScheduler.Default);
        session.WaitBeforeNext(all);
        return CommandOutcome.Done;
    }

    private static void WriteConfirmation(ArrayBufferWriter<byte> writer, int protocol, string kind, ReadOnlySequence<byte>? channel)
    {
        writer.Write(protocol == 3 ? ">3\r\n"u8 : "*3\r\n"u8);
        RespWriter.WriteBulkString(writer, kind);
        if (channel is { } name)
        {
            RespWriter.WriteBulkString(writer, name);
        }
        else
        {
            writer.Write(protocol == 3 ? "_\r\n"u8 : "$-1\r\n"u8);
        }

        RespWriter.WriteInteger(writer, 0);
    }

    /// <summary>The group of the master serving the shard channels of a request; null when they span slots.</summary>
    private static int? ShardGroupOf(RouterSession session, RespRequest request)
    {
        var slot = -1;
        for (var i = 1; i < request.Count; i++)
        {
            var channelSlot = HashSlot.Compute(request.Argument(i));
            if (slot >= 0 && channelSlot != slot)
            {
                return null;
            }

            slot = channelSlot;
        }

        return slot < 0 ? AnyGroup(session) : session.Context.Dispatcher.Monitor.Current.GroupForSlot(slot)?.Id;
    }

    /// <summary>MONITOR: a connection of the client's own to every master, each streaming its commands to the client.</summary>
    private static CommandOutcome Monitor(RouterSession session)
    {
        if (!session.IsQuiet)
        {
            session.WaitBeforeNext(session.QuietAsync());
            return CommandOutcome.Retry;
        }

        var slot = session.NewSlot();
        var groups = session.Context.Dispatcher.Monitor.Current.Groups.Where(g => g.RoutableMaster is not null).Select(g => g.Id).ToList();
        if (session.IsMonitoring)
        {
            session.Answer(slot, GatewayReplies.Ok);
            return CommandOutcome.Done;
        }

        if (groups.Count == 0 || session.OpenMonitors(groups) is not { } links)
        {
            session.Answer(slot, groups.Count == 0 ? GatewayReplies.NoMasterAnywhere : GatewayReplies.TooManyOwnConnections("MONITOR"));
            return CommandOutcome.Done;
        }

        var replies = links.Select(l => l.SendAsync(MonitorCommand, CommandKind.Monitor, 1, readOnly: false, slot: null)).ToList();
        _ = Task.WhenAll(replies).ContinueWith(_ => slot.SetReply(GatewayReplies.Ok, null), TaskScheduler.Default);
        return CommandOutcome.Done;
    }

    /// <summary>What a RESP2 client may send while subscribed (Redis's rule).</summary>
    private static bool AllowedWhileSubscribed(CommandSpec? spec) =>
        spec is not null && (spec.Traits.Router == RouterDisposition.PubSub || spec.Name is "ping" or "quit" or "reset");

    /// <summary>
    /// The client's subscriber link: on the pub/sub home group's master (<see cref="PubSubHome"/>), or, when the router
    /// holds its most connections there, on the next group's (its messages still arrive; PUBLISH counts it no more).
    /// </summary>
    private static RouterLink? SubscriberLink(RouterSession session)
    {
        foreach (var group in session.Context.Dispatcher.Monitor.Current.Groups.Where(g => g.RoutableMaster is not null).OrderBy(g => g.Id))
        {
            if (session.SubscriberLink(group.Id) is { } link)
            {
                return link;
            }
        }

        return null;
    }
}
