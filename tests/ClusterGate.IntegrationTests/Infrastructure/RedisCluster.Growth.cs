using System.Globalization;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>Growing a private cluster while it runs: a new node, then slots handed to it, as an operator scales out.</summary>
public sealed partial class RedisCluster
{
    /// <summary>
    /// Starts one more node (in this cluster's directory, so dispose and the watchdog stop it too), has the cluster
    /// meet it and waits until every node knows it settled. It is a master without slots: no shard group yet.
    /// Convergence checks that count <see cref="NodeCount"/> nodes do not hold after this.
    /// </summary>
    public async Task<RedisNodeProcess> AddEmptyMasterAsync(RedisClusterOptions options, TimeSpan timeout, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var node = await StartExtraNodeAsync(options, ct);
        node.Id = await RespProbe.SendForStringAsync(node.Port, ProbeTimeout, ct, "CLUSTER", "MYID");
        await RespProbe.SendAsync(FirstRunningNode().Port, ProbeTimeout, ct, "CLUSTER", "MEET", "127.0.0.1", node.Port.ToString(CultureInfo.InvariantCulture), node.BusPort.ToString(CultureInfo.InvariantCulture));

        var problem = "";
        await WaitUntilAsync(
            async token =>
            {
                foreach (var running in _nodes.Where(n => n.IsRunning))
                {
                    var lines = await TryGetLinesAsync(running.Port, token);
                    if (lines is null || lines.Count != _nodes.Count || lines.Any(l => l.IsUnsettled))
                    {
                        problem = $"{running.Endpoint} sees {lines?.Count ?? 0} of {_nodes.Count} nodes, or some unsettled";
                        return false;
                    }
                }

                return true;
            },
            timeout,
            $"every node to know the new node {node.Endpoint}",
            () => problem,
            ct);
        return node;
    }

    /// <summary>
    /// Hands <paramref name="slot"/>, which must hold no key, to <paramref name="target"/> the way a resharding tool
    /// does (IMPORTING, MIGRATING, then NODE on both ends, which bumps the target's config epoch so the change wins
    /// in gossip) and waits until every running node shows the target owning it.
    /// </summary>
    public async Task MoveEmptySlotAsync(int slot, RedisNodeProcess target, TimeSpan timeout, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(target);
        var source = Node(await MasterPortForSlotAsync(slot, ct));
        var s = slot.ToString(CultureInfo.InvariantCulture);
        await RespProbe.SendAsync(target.Port, ProbeTimeout, ct, "CLUSTER", "SETSLOT", s, "IMPORTING", source.Id);
        await RespProbe.SendAsync(source.Port, ProbeTimeout, ct, "CLUSTER", "SETSLOT", s, "MIGRATING", target.Id);
        await RespProbe.SendAsync(target.Port, ProbeTimeout, ct, "CLUSTER", "SETSLOT", s, "NODE", target.Id);
        try
        {
            await RespProbe.SendAsync(source.Port, ProbeTimeout, ct, "CLUSTER", "SETSLOT", s, "NODE", target.Id);
        }
        catch (RespErrorException e) when (e.Message.Contains("only with masters", StringComparison.Ordinal))
        {
            // Gossip was first: the source heard of the target's newer epoch, and having lost its last slot it turned
            // into the target's replica (cluster-allow-replica-migration), which is the move completed.
        }

        var problem = "";
        await WaitUntilAsync(
            async token =>
            {
                foreach (var running in _nodes.Where(n => n.IsRunning))
                {
                    var lines = await TryGetLinesAsync(running.Port, token);
                    var owners = lines?.Where(l => l.IsMaster && l.OwnsSlot(slot)).Select(l => l.Id).ToList() ?? [];
                    if (owners.Count != 1 || owners[0] != target.Id)
                    {
                        problem = $"{running.Endpoint} sees slot {slot} owned by {string.Join(", ", owners)}";
                        return false;
                    }
                }

                return true;
            },
            timeout,
            $"every node to see slot {slot} on {target.Endpoint}",
            () => problem,
            ct);
    }

    private async Task<RedisNodeProcess> StartExtraNodeAsync(RedisClusterOptions options, CancellationToken ct)
    {
        // A port chosen free can be taken before redis binds it; then try fresh ports.
        for (var attempt = 1; ; attempt++)
        {
            var ports = FreePorts(2);
            var nodeDir = Path.Combine(Directory, "n" + _nodes.Count.ToString(CultureInfo.InvariantCulture) + "-" + attempt.ToString(CultureInfo.InvariantCulture));
            System.IO.Directory.CreateDirectory(nodeDir);
            var node = new RedisNodeProcess(ports[0], ports[1], nodeDir);
            await File.WriteAllTextAsync(node.ConfigPath, Config(node, options), ct);
            _nodes.Add(node);
            node.Start(_redisServer);
            try
            {
                await WaitForPingAsync(node, TimeSpan.FromSeconds(10), ct);
                return node;
            }
            catch (PortInUseException) when (attempt < 3)
            {
                node.Dispose();
                _nodes.Remove(node);
            }
        }
    }
}
