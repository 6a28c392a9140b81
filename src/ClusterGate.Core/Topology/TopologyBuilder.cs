using System.Collections.Immutable;
using ClusterGate.Core.Backends;

namespace ClusterGate.Core.Topology;

/// <summary>
/// Reconciles the views of several nodes into one <see cref="TopologySnapshot"/>. Pure: no I/O,
/// so every failover step can be replayed in unit tests from captured replies.
/// </summary>
/// <remarks>
/// Rules: per slot, the master claim with the highest config epoch wins. A node's role comes from
/// its own <c>myself</c> line when it answered, else from the view with the highest epoch for it.
/// A master is confirmed only when its own <c>INFO replication</c> says <c>role:master</c>.
/// Group identity is kept across snapshots: a master that was a member of a previous group (its
/// promoted replica, say) leads that group; else the group whose slots it mostly took over.
/// </remarks>
public sealed class TopologyBuilder
{
    private readonly Func<NodeEndpoint, NodeEndpoint> _mapAddress;
    private int _nextGroupId;

    public TopologyBuilder(Func<NodeEndpoint, NodeEndpoint>? mapAddress = null)
    {
        _mapAddress = mapAddress ?? (e => e);
    }

    public TopologySnapshot Build(IReadOnlyList<NodeView> views, TopologySnapshot previous, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(views);
        ArgumentNullException.ThrowIfNull(previous);

        var answered = views.Where(v => v.Answered).ToList();
        var selfIdByEndpoint = new Dictionary<NodeEndpoint, string>();
        var replicationById = new Dictionary<string, ReplicationInfo>(StringComparer.Ordinal);
        var selfLineById = new Dictionary<string, ClusterNodeInfo>(StringComparer.Ordinal);
        foreach (var view in answered)
        {
            if (view.Self is { } self)
            {
                selfLineById[self.Id] = self;
                selfIdByEndpoint[view.Queried] = self.Id;
                if (view.Replication is { } replication)
                {
                    replicationById[self.Id] = replication;
                }
            }
        }

        // A node busy in a script answers -BUSY: it is what the previous snapshot knew, reachable, its role unchanged.
        // The answer itself proves it alive, also when the previous refresh caught it before Redis's busy threshold
        // and took its silence for a crash.
        var busy = new Dictionary<string, NodeState>(StringComparer.Ordinal);
        foreach (var view in views.Where(v => v.Busy))
        {
            if (previous.Nodes.FirstOrDefault(n => n.Connect == view.Queried) is { } known)
            {
                busy[known.Id] = known;
            }
        }

        var unreachable = new HashSet<NodeEndpoint>(views.Where(v => !v.Answered && !(v.Busy && busy.Values.Any(n => n.Connect == v.Queried))).Select(v => v.Queried));

        // Per node id: the freshest line (highest epoch; the node's own line wins ties) and failure marks.
        var lines = new Dictionary<string, ClusterNodeInfo>(StringComparer.Ordinal);
        var failed = new HashSet<string>(StringComparer.Ordinal);
        var suspected = new HashSet<string>(StringComparer.Ordinal);
        var migrations = new HashSet<SlotMigration>();
        foreach (var view in answered)
        {
            foreach (var line in view.Nodes!)
            {
                if ((line.Flags & ClusterNodeFlags.Failed) != 0)
                {
                    failed.Add(line.Id);
                }

                if ((line.Flags & ClusterNodeFlags.PossiblyFailed) != 0)
                {
                    suspected.Add(line.Id);
                }

                foreach (var migration in line.Migrations)
                {
                    migrations.Add(migration);
                }

                if ((line.Flags & (ClusterNodeFlags.Handshake | ClusterNodeFlags.NoAddress)) != 0 && !lines.ContainsKey(line.Id))
                {
                    continue;
                }

                if (!lines.TryGetValue(line.Id, out var known) || line.ConfigEpoch > known.ConfigEpoch)
                {
                    lines[line.Id] = line;
                }
            }
        }

        foreach (var (id, self) in selfLineById)
        {
            // A node knows its own role best: a promoted replica says master before its peers agree.
            if (!lines.TryGetValue(id, out var known) || self.ConfigEpoch >= known.ConfigEpoch)
            {
                lines[id] = self;
            }

            failed.Remove(id);
        }

        // Slot ownership: per slot, the claim with the highest config epoch.
        var slotOwner = new string?[TopologySnapshot.SlotCount];
        var slotEpoch = new long[TopologySnapshot.SlotCount];
        Array.Fill(slotEpoch, -1);
        foreach (var view in answered)
        {
            foreach (var line in view.Nodes!)
            {
                if (!line.IsMaster)
                {
                    continue;
                }

                // Use the freshest epoch known for the claiming node, not the (possibly stale) one in this view.
                var epoch = lines.TryGetValue(line.Id, out var best) ? Math.Max(best.ConfigEpoch, line.ConfigEpoch) : line.ConfigEpoch;
                foreach (var range in line.Slots)
                {
                    for (var slot = range.Start; slot <= range.End; slot++)
                    {
                        if (epoch > slotEpoch[slot])
                        {
                            slotEpoch[slot] = epoch;
                            slotOwner[slot] = line.Id;
                        }
                    }
                }
            }
        }

        // A node that claims master role per the winning line but owns no slot is not a group leader
        // unless it has replicas (an empty master still forms a group, e.g. right after CLUSTER MEET).
        var nodes = new Dictionary<string, NodeState>(StringComparer.Ordinal);
        foreach (var (id, line) in lines)
        {
            var announced = line.Endpoint;
            var down = failed.Contains(id) || (unreachable.Contains(_mapAddress(announced)) && !selfLineById.ContainsKey(id));
            var isMaster = line.IsMaster;
            nodes[id] = new NodeState
            {
                Id = id,
                Announced = announced,
                Connect = _mapAddress(announced),
                IsMaster = isMaster,
                MasterId = isMaster ? null : line.MasterId,
                ConfigEpoch = line.ConfigEpoch,
                IsDown = down,
                IsSuspected = suspected.Contains(id),
                Reachable = selfLineById.ContainsKey(id) || busy.ContainsKey(id),
                IsBusy = busy.ContainsKey(id),
                // A node that cannot be asked keeps its last known role (it is down, so nothing is confirmed from it): when
                // it was only silent at the start of a long script, its -BUSY at the next refresh confirms it again.
                Replication = replicationById.GetValueOrDefault(id) ?? busy.GetValueOrDefault(id)?.Replication
                    ?? (down ? previous.NodeById(id)?.Replication : null),
            };
        }

        var slotsByMaster = new Dictionary<string, List<SlotRange>>(StringComparer.Ordinal);
        for (var slot = 0; slot < slotOwner.Length;)
        {
            var owner = slotOwner[slot];
            var end = slot;
            while (end + 1 < slotOwner.Length && slotOwner[end + 1] == owner)
            {
                end++;
            }

            if (owner is not null)
            {
                if (!slotsByMaster.TryGetValue(owner, out var ranges))
                {
                    slotsByMaster[owner] = ranges = [];
                }

                ranges.Add(new SlotRange(slot, end));
            }

            slot = end + 1;
        }

        // Leaders: slot owners, plus slotless masters that are up and have replicas.
        var leaders = new List<string>(slotsByMaster.Keys);
        foreach (var node in nodes.Values)
        {
            if (node.IsMaster && !node.IsDown && !slotsByMaster.ContainsKey(node.Id) && nodes.Values.Any(r => r.MasterId == node.Id))
            {
                leaders.Add(node.Id);
            }
        }

        leaders.Sort((a, b) => LowestSlot(slotsByMaster, a).CompareTo(LowestSlot(slotsByMaster, b)));

        var candidates = leaders.Select(id => (
            Master: nodes[id],
            Replicas: nodes.Values.Where(n => !n.IsMaster && n.MasterId == id).OrderBy(n => n.Announced.Port).ThenBy(n => n.Id, StringComparer.Ordinal).ToImmutableArray(),
            Slots: slotsByMaster.TryGetValue(id, out var r) ? r.ToImmutableArray() : [])).ToList();
        var groupIds = new int?[candidates.Count];
        var usedGroupIds = new HashSet<int>();

        // Strongest evidence first, over all leaders, not first come in slot order: else a new master that took the
        // lowest slots of a group (rebalance) or a former replica with lower slots takes the group from its master.
        for (var rule = 0; rule < PreviousGroupRules; rule++)
        {
            for (var i = 0; i < candidates.Count; i++)
            {
                if (groupIds[i] is null && FindPreviousGroup(rule, previous, candidates[i].Master, candidates[i].Replicas, candidates[i].Slots, usedGroupIds) is { } id)
                {
                    groupIds[i] = id;
                    usedGroupIds.Add(id);
                }
            }
        }

        var groups = new List<ShardGroup>();
        for (var i = 0; i < candidates.Count; i++)
        {
            var (master, replicas, slots) = candidates[i];
            if (groupIds[i] is null && slots.IsEmpty && previous.GroupByNodeId(master.Id) is not null)
            {
                // A member of a group that still has its leader, now a master without slots: a manual failover
                // caught half way (it has the role, not yet the slots). It is not a new group; once it owns the
                // slots it leads its old group (its replica, the old master, was in it).
                continue;
            }

            var groupId = groupIds[i] ?? AllocateGroupId(previous, usedGroupIds);
            usedGroupIds.Add(groupId);

            var info = master.Replication;
            var confirmed = !master.IsDown && master.Reachable && info is { Role: ReplicationRole.Master };
            groups.Add(new ShardGroup
            {
                Id = groupId,
                Master = master,
                MasterConfirmed = confirmed,
                Replicas = replicas,
                Slots = slots,
            });
        }

        groups.Sort((a, b) => a.Id.CompareTo(b.Id));
        var orderedNodes = nodes.Values.OrderBy(n => n.Announced.Host, StringComparer.Ordinal).ThenBy(n => n.Announced.Port).ToImmutableArray();
        return new TopologySnapshot(previous.Version + 1, now, [.. groups], orderedNodes, [.. migrations.OrderBy(m => m.Slot)]);
    }

    private static int LowestSlot(Dictionary<string, List<SlotRange>> slotsByMaster, string id) =>
        slotsByMaster.TryGetValue(id, out var ranges) && ranges.Count > 0 ? ranges[0].Start : int.MaxValue;

    private const int PreviousGroupRules = 4;

    private static int? FindPreviousGroup(int rule, TopologySnapshot previous, NodeState master, ImmutableArray<NodeState> replicas, ImmutableArray<SlotRange> slots, HashSet<int> used)
    {
        var byMaster = previous.GroupByNodeId(master.Id);
        switch (rule)
        {
            // 0. The master led that group already.
            case 0:
                return byMaster is not null && byMaster.Master?.Id == master.Id && !used.Contains(byMaster.Id) ? byMaster.Id : null;

            // 1. The master was in a group (it is that group's promoted replica).
            case 1:
                return byMaster is not null && !used.Contains(byMaster.Id) ? byMaster.Id : null;

            // 2. One of its replicas was in a group (a manual failover onto a node we never saw as replica).
            case 2:
                foreach (var replica in replicas)
                {
                    if (previous.GroupByNodeId(replica.Id) is { } byReplica && !used.Contains(byReplica.Id))
                    {
                        return byReplica.Id;
                    }
                }

                return null;
        }

        // 3. It took over most of a previous group's slots.
        var votes = new Dictionary<int, int>();
        foreach (var range in slots)
        {
            for (var slot = range.Start; slot <= range.End; slot++)
            {
                if (previous.GroupForSlot(slot) is { } owner && !used.Contains(owner.Id))
                {
                    votes[owner.Id] = votes.GetValueOrDefault(owner.Id) + 1;
                }
            }
        }

        return votes.Count == 0 ? null : votes.MaxBy(kv => kv.Value).Key;
    }

    private int AllocateGroupId(TopologySnapshot previous, HashSet<int> used)
    {
        // Ids are never reused within one process, so a retired group's port is not silently handed on.
        var floor = previous.Groups.IsDefaultOrEmpty ? 0 : previous.Groups.Max(g => g.Id) + 1;
        _nextGroupId = Math.Max(_nextGroupId, floor);
        while (used.Contains(_nextGroupId))
        {
            _nextGroupId++;
        }

        return _nextGroupId++;
    }
}
