using System.Buffers;
using System.Globalization;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Routing.Merge;
using ClusterGate.Core.Topology;

namespace ClusterGate.Core.Frontends.Router;

internal static partial class RouterCommands
{
    /// <summary>For each slot, a hash tag whose keys hash to it (the smallest number that does), computed once.</summary>
    private static readonly Lazy<string[]> SlotTags = new(() =>
    {
        var tags = new string[TopologySnapshot.SlotCount];
        var found = 0;
        Span<byte> digits = stackalloc byte[16];
        for (var i = 0; found < tags.Length; i++)
        {
            i.TryFormat(digits, out var length, provider: CultureInfo.InvariantCulture);
            var slot = HashSlot.Compute(digits[..length]);
            if (tags[slot] is null)
            {
                tags[slot] = i.ToString(CultureInfo.InvariantCulture);
                found++;
            }
        }

        return tags;
    });

    /// <summary>
    /// A blocking command (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK...) or one the gateway's table does not know (a module):
    /// on a connection of the client's own to the master of its slot, for its duration, after everything the client
    /// sent before has run; the client's next commands wait for its reply, as Redis makes a blocked client wait. The
    /// connection follows failovers like a shard port's (a write in flight at a crash gets outcome unknown) and closes
    /// with its reply, or at once when the client leaves (Redis then drops the blocked command).
    /// </summary>
    private static CommandOutcome Dedicated(RouterSession session, RespRequest request, CommandSpec spec)
    {
        if (!session.IsQuiet)
        {
            session.WaitBeforeNext(session.QuietAsync());
            return CommandOutcome.Retry;
        }

        if (spec.Name is "wait" or "waitaof")
        {
            Wait(session, request, spec);
            return CommandOutcome.Done;
        }

        var slot = session.NewSlot();
        if (!KeyFinder.TryGetSlot(request, spec, out var hashSlot, out var crossSlot, out var keyless))
        {
            session.Answer(slot, KeysNotFound(request, spec));
            return CommandOutcome.Done;
        }

        if (crossSlot)
        {
            session.Answer(slot, GatewayReplies.CrossSlot);
            return CommandOutcome.Done;
        }

        var snapshot = session.Context.Dispatcher.Monitor.Current;
        var group = keyless ? AnyGroup(session) : snapshot.GroupForSlot(hashSlot)?.Id;
        if (group is null)
        {
            session.Answer(slot, GatewayReplies.NoMasterAnywhere);
            return CommandOutcome.Done;
        }

        if (session.OpenLink(group.Value) is not { } link)
        {
            session.Answer(slot, GatewayReplies.TooManyOwnConnections(spec.Name.ToUpperInvariant()));
            return CommandOutcome.Done;
        }

        var readOnly = spec.Traits.Resendable;
        var reply = link.SendAsync(request.ArrayFrame.ToArray(), CommandKind.Normal, 1, readOnly, slot);

        // The client's next command waits until the link is closed and counted back, so a worker looping on BLPOP
        // at the per-master limit gets its own connection back rather than an error.
        session.WaitBeforeNext(CloseAfterReplyAsync(session, link, reply));
        return CommandOutcome.Done;
    }

    private static async Task CloseAfterReplyAsync(RouterSession session, RouterLink link, Task reply)
    {
        try
        {
            await reply.ConfigureAwait(false);
        }
        finally
        {
            await session.CloseLinkAsync(link).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// WAIT: the replicas must have the client's earlier writes, which went to the masters over shared connections.
    /// On a connection of its own to every master, a write of the gateway's (<c>SET __clustergate:wait:{tag} 1 PX 1000</c>,
    /// a key in that master's slots that expires at once) sets that connection's replication offset to the master's
    /// current one, past every earlier write; WAIT there then waits for exactly what the client's WAIT waits for.
    /// The answer is the least over the masters (Redis's <c>response_policy:agg_min</c>).
    /// </summary>
    private static void Wait(RouterSession session, RespRequest request, CommandSpec spec)
    {
        var slot = session.NewSlot();
        var snapshot = session.Context.Dispatcher.Monitor.Current;
        var groups = snapshot.Groups.Where(g => g.RoutableMaster is not null && !g.Slots.IsDefaultOrEmpty).ToList();
        if (groups.Count == 0)
        {
            session.Answer(slot, GatewayReplies.NoMasterAnywhere);
            return;
        }

        var links = new List<RouterLink>();
        foreach (var group in groups)
        {
            if (session.OpenLink(group.Id) is not { } link)
            {
                foreach (var opened in links)
                {
                    _ = session.CloseLinkAsync(opened);
                }

                session.Answer(slot, GatewayReplies.TooManyOwnConnections(spec.Name.ToUpperInvariant()));
                return;
            }

            links.Add(link);
        }

        var wait = request.ArrayFrame.ToArray();
        var replies = new List<Task<ReadOnlyMemory<byte>>>();
        for (var i = 0; i < links.Count; i++)
        {
            var tag = SlotTag(groups[i].Slots[0].Start);
            var marker = new ArrayBufferWriter<byte>();
            RespWriter.WriteCommand(marker, ["SET", $"__clustergate:wait:{{{tag}}}", "1", "PX", "1000"]);
            _ = links[i].SendAsync(marker.WrittenMemory.ToArray(), CommandKind.Normal, 1, readOnly: false, slot: null);
            replies.Add(links[i].SendAsync(wait, CommandKind.Normal, 1, readOnly: false, slot: null));
        }

        var all = Task.WhenAll(replies);
        _ = AnswerFromLinksAsync(session, slot, links, replies, parts => ReplyMerge.AggregateIntegers(parts, Math.Min));
        session.WaitBeforeNext(all);
    }

    /// <summary>Answers <paramref name="slot"/> with the merge of replies on links of the client's own, then closes the links.</summary>
    private static async Task AnswerFromLinksAsync(RouterSession session, ReplySlot slot, List<RouterLink> links, List<Task<ReadOnlyMemory<byte>>> replies, Func<byte[][], byte[]> merge)
    {
        try
        {
            var parts = await Task.WhenAll(replies).ConfigureAwait(false);
            slot.SetReply(merge([.. parts.Select(r => r.ToArray())]), null);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            slot.SetReply(GatewayReplies.OutcomeUnknown("of this client's own connection"), null);
        }
        finally
        {
            foreach (var link in links)
            {
                await session.CloseLinkAsync(link).ConfigureAwait(false);
            }
        }
    }

    private static string SlotTag(int slot) => SlotTags.Value[slot];

    /// <summary>A group with a master, the same for a session while the topology stands.</summary>
    /// <summary>
    /// The group whose master carries every router client's SUBSCRIBE and PSUBSCRIBE, and every PUBLISH: the lowest
    /// group id with a master. The cluster delivers messages on every node anyway; one place for all of them makes
    /// PUBLISH's count of receivers and PUBSUB NUMSUB the ones a single Redis would give.
    /// </summary>
    private static ShardGroup? PubSubHome(RouterSession session) =>
        session.Context.Dispatcher.Monitor.Current.Groups.Where(g => g.RoutableMaster is not null).MinBy(g => g.Id);

    private static int? AnyGroup(RouterSession session)
    {
        var groups = session.Context.Dispatcher.Monitor.Current.Groups.Where(g => g.RoutableMaster is not null).ToList();
        return groups.Count == 0 ? null : groups[(int)(session.Id % groups.Count)].Id;
    }
}
