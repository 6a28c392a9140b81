using System.Buffers;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;

namespace ClusterGate.Core.Frontends.Router;

/// <summary>
/// The connections of the client's own (<see cref="RouterLink"/>) and the modes they bring: a transaction being
/// queued, a watched transaction, subscriptions, MONITOR, a blocking command running. Read loop only, except where
/// a lock says otherwise; every link ends with the session.
/// </summary>
internal sealed partial class RouterSession
{
    private static readonly byte[] Hello3 = "*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n"u8.ToArray();

    private readonly List<RouterLink> _links = [];
    private RouterLink? _subscriber;
    private Dictionary<int, RouterLink>? _shardSubscribers;
    private List<RouterLink>? _monitors;

    /// <summary>The client's transaction being queued (MULTI until EXEC or DISCARD), or null.</summary>
    public RouterTransaction? Transaction { get; set; }

    /// <summary>The link WATCH runs on (its transaction goes there too), and its connection count at WATCH time.</summary>
    public RouterLink? WatchLink { get; set; }

    public int WatchConnections { get; set; }

    /// <summary>Completes once WATCH's reply is in (and <see cref="WatchConnections"/> is set).</summary>
    public Task WatchReplied { get; set; } = Task.CompletedTask;

    /// <summary>The RESP version spoken with the client (HELLO).</summary>
    public int Protocol { get; set; } = 2;

    /// <summary>CLIENT REPLY OFF: replies are dropped; SKIP: the next one is.</summary>
    public bool RepliesOff { get; set; }

    public bool SkipNextReply { get; set; }

    /// <summary>Subscribed to anything: in RESP2 only the subscribe family, PING, QUIT and RESET are allowed then.</summary>
    public bool IsSubscribed =>
        (_subscriber?.State.HasSubscriptions ?? false) || (_shardSubscribers?.Values.Any(l => l.State.HasSubscriptions) ?? false) || SubscribeInFlight;

    /// <summary>A subscribe was sent and its confirmations may not be in yet.</summary>
    public bool SubscribeInFlight { get; set; }

    public bool IsMonitoring => _monitors is not null;

    /// <summary>Every reply asked for so far is in (nothing sent before is still running).</summary>
    public bool IsQuiet => Volatile.Read(ref _slotsPending) == 0;

    /// <summary>Commands cannot take the fast path: they need the session's mode to decide.</summary>
    private bool InSpecialMode =>
        _barrier is { IsCompleted: false } || Transaction is not null || WatchLink is not null || _subscriber is not null
        || _shardSubscribers is not null || _monitors is not null || Protocol != 2 || RepliesOff || SkipNextReply;

    /// <summary>Opens a connection of the client's own to a group's master; null at the limit (the caller answers an error).</summary>
    public RouterLink? OpenLink(int groupId)
    {
        if (!_context.TryTakeLink(groupId))
        {
            return null;
        }

        var link = new RouterLink(this, groupId, () => _context.ReturnLink(groupId));
        lock (_links)
        {
            _links.Add(link);
        }

        if (Protocol == 3)
        {
            // The link speaks what the client speaks; HELLO is replayed with the rest of its state after a failover.
            _ = link.SendAsync(Hello3, Backends.InFlight.CommandKind.Hello, 1, readOnly: false, slot: null);
        }

        return link;
    }

    /// <summary>Closes a link (its command is answered, the transaction ended, the last channel was left).</summary>
    public async Task CloseLinkAsync(RouterLink link)
    {
        lock (_links)
        {
            _links.Remove(link);
        }

        await link.DisposeAsync();
    }

    /// <summary>The link for SUBSCRIBE/PSUBSCRIBE: one, on any group's master (the cluster carries messages to every node).</summary>
    public RouterLink? SubscriberLink(int anyGroupId)
    {
        if (_subscriber is null && OpenLink(anyGroupId) is { } link)
        {
            link.Pushes = true;
            _subscriber = link;
        }

        return _subscriber;
    }

    /// <summary>The link for SSUBSCRIBE of one group (shard channels live on the master of their slot).</summary>
    public RouterLink? ShardSubscriberLink(int groupId)
    {
        lock (_links)
        {
            _shardSubscribers ??= [];
            if (!_shardSubscribers.TryGetValue(groupId, out var link) && OpenLink(groupId) is { } opened)
            {
                opened.Pushes = true;
                _shardSubscribers[groupId] = link = opened;
            }

            return link;
        }
    }

    public IReadOnlyCollection<RouterLink> ShardSubscriberLinks
    {
        get
        {
            lock (_links)
            {
                return _shardSubscribers is null ? [] : [.. _shardSubscribers.Values];
            }
        }
    }

    /// <summary>
    /// Redis ended a shard subscription because the channel's slot moved (resharding): subscribe again on the master
    /// that owns the slot now, once the topology shows it (within the hold time). Messages published in between are
    /// lost, as in Redis Cluster. Only when that fails does the client get Redis's <paramref name="ended"/> message.
    /// </summary>
    public void OnShardChannelMoved(RouterLink from, string channel, byte[] ended) => _ = ResubscribeShardAsync(from.GroupId, channel, ended);

    private async Task ResubscribeShardAsync(int fromGroup, string channel, byte[] ended)
    {
        var monitor = _context.Dispatcher.Monitor;
        var time = _context.TimeProvider;
        var deadline = time.GetUtcNow() + _context.Options.HoldTimeout;
        var name = System.Text.Encoding.Latin1.GetBytes(channel);
        var slot = HashSlot.Compute(name);
        var writer = new ArrayBufferWriter<byte>(name.Length + 32);
        RespWriter.WriteCommand(writer, "SSUBSCRIBE"u8, name);
        var command = writer.WrittenMemory;
        monitor.RequestRefresh("router: a shard channel's slot moved");
        while (!_stopping && time.GetUtcNow() < deadline)
        {
            if (monitor.Current.GroupForSlot(slot) is { RoutableMaster: not null } group && group.Id != fromGroup
                && ShardSubscriberLink(group.Id) is { } link)
            {
                var reply = await link.SendAsync(command, CommandKind.SSubscribe, 1, readOnly: false, slot: null);
                if (!reply.IsEmpty && reply.Span[0] is not (byte)'-')
                {
                    return;
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(100), time);
        }

        if (!_stopping)
        {
            Push(new ReadOnlySequence<byte>(ended));
        }
    }

    public RouterLink? CurrentSubscriberLink => _subscriber;

    /// <summary>Starts MONITOR on every group's master; false when a link could not be opened.</summary>
    public List<RouterLink>? OpenMonitors(IEnumerable<int> groups)
    {
        var links = new List<RouterLink>();
        foreach (var group in groups)
        {
            if (OpenLink(group) is not { } link)
            {
                foreach (var opened in links)
                {
                    _ = CloseLinkAsync(opened);
                }

                return null;
            }

            link.Monitoring = true;
            links.Add(link);
        }

        _monitors = links;
        return links;
    }

    /// <summary>RESET: back to a fresh connection; what the client had of its own is closed.</summary>
    public async Task ResetLinksAsync()
    {
        Transaction = null;
        WatchLink = null;
        _subscriber = null;
        _shardSubscribers = null;
        _monitors = null;
        SubscribeInFlight = false;
        await CloseAllLinksAsync();
    }

    /// <summary>The session ends: blocked commands, watches and subscriptions end with the client.</summary>
    private async Task CloseAllLinksAsync()
    {
        RouterLink[] links;
        lock (_links)
        {
            links = [.. _links];
            _links.Clear();
        }

        foreach (var link in links)
        {
            await link.DisposeAsync();
        }
    }

    /// <summary>Drops the replies the client turned off (CLIENT REPLY OFF / SKIP); true when this one is dropped.</summary>
    public bool DropReply()
    {
        if (SkipNextReply)
        {
            SkipNextReply = false;
            return true;
        }

        return RepliesOff;
    }

    internal static byte[] ToArray(in ReadOnlySequence<byte> frame) => frame.ToArray();
}
