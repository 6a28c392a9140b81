using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>Failures the tests inject into the cluster (crash, hang, restart) and the waits for what follows.</summary>
public sealed partial class RedisCluster
{
    /// <summary>
    /// Sends <c>DEBUG SEGFAULT</c> to the node and waits until its process has exited. When the node
    /// was a master, its id and slots are remembered for <see cref="WaitForPromotionAsync"/>.
    /// </summary>
    public async Task SegfaultAsync(int port, CancellationToken ct = default)
    {
        var node = Node(port);
        if (!node.IsRunning)
        {
            throw new InvalidOperationException($"Node {node} is not running.");
        }

        var self = (await ClusterNodeLinesAsync(port, ct)).FirstOrDefault(l => l.IsMyself);
        if (self is { IsMaster: true })
        {
            _killedMasters[port] = (self.Id, self.Slots, Stopwatch.GetTimestamp());
        }

        try
        {
            await RespProbe.SendAsync(port, ProbeTimeout, ct, "DEBUG", "SEGFAULT");
        }
        catch (Exception e) when (e is IOException or SocketException or EndOfStreamException or TimeoutException)
        {
            // The node dies instead of answering: expected.
        }

        if (!await node.WaitForExitAsync(TimeSpan.FromSeconds(10), ct))
        {
            throw new TimeoutException($"Node {node} did not exit within 10 s of DEBUG SEGFAULT.");
        }
    }

    /// <summary>
    /// Stops the node's process with SIGSTOP, by its pid: a master that hangs without closing its sockets (as one
    /// writing a long crash report, a paused VM, a network black hole). Remembered for <see cref="WaitForPromotionAsync"/>.
    /// </summary>
    public async Task PauseAsync(int port, CancellationToken ct = default)
    {
        var node = Node(port);
        var self = (await ClusterNodeLinesAsync(port, ct)).FirstOrDefault(l => l.IsMyself);
        if (self is { IsMaster: true })
        {
            _killedMasters[port] = (self.Id, self.Slots, Stopwatch.GetTimestamp());
        }

        Signal(node, "STOP");
        lock (_paused)
        {
            _paused.Add(port);
        }
    }

    /// <summary>Lets a node stopped by <see cref="PauseAsync"/> run again (SIGCONT).</summary>
    public void Resume(int port)
    {
        Signal(Node(port), "CONT");
        lock (_paused)
        {
            _paused.Remove(port);
        }
    }

    private static void Signal(RedisNodeProcess node, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} {node.Pid.ToString(CultureInfo.InvariantCulture)}") { UseShellExecute = false })
            ?? throw new InvalidOperationException("could not run kill");
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {node.Pid} failed with {kill.ExitCode}");
        }
    }

    private bool IsPaused(int port)
    {
        lock (_paused)
        {
            return _paused.Contains(port);
        }
    }

    /// <summary>Starts a stopped node again from its own config and directory and waits for PING.</summary>
    public async Task RestartAsync(int port, CancellationToken ct = default)
    {
        var node = Node(port);
        node.Start(_redisServer);
        await WaitForPingAsync(node, TimeSpan.FromSeconds(10), ct);
    }

    /// <summary>
    /// Waits until a surviving node's <c>CLUSTER NODES</c> shows another node as a healthy master
    /// holding exactly the slots the dead master had. Returns that node's port and when it became
    /// visible (and, when the master was killed through <see cref="SegfaultAsync"/>, how long after).
    /// </summary>
    public async Task<PromotionResult> WaitForPromotionAsync(int deadMasterPort, TimeSpan timeout, CancellationToken ct = default)
    {
        var dead = Node(deadMasterPort);
        string deadId;
        string slots;
        long? since = null;
        if (_killedMasters.TryGetValue(deadMasterPort, out var killed))
        {
            (deadId, slots, since) = (killed.Id, killed.Slots, killed.SegfaultTimestamp);
        }
        else
        {
            deadId = dead.Id;
            var view = await ClusterNodeLinesAsync(FirstRunningNode().Port, ct);
            slots = view.FirstOrDefault(l => l.Id == deadId)?.Slots ?? "";
        }

        if (slots.Length == 0)
        {
            throw new InvalidOperationException($"Node {dead} held no slots when it went down: nothing to promote.");
        }

        PromotionResult? result = null;
        await WaitUntilAsync(
            async token =>
            {
                foreach (var survivor in _nodes.Where(n => n.IsRunning && n.Port != deadMasterPort && !IsPaused(n.Port)))
                {
                    var lines = await TryGetLinesAsync(survivor.Port, token);
                    var promoted = lines?.FirstOrDefault(l => l.Id != deadId && l.IsMaster && !l.IsUnsettled && l.Slots == slots);
                    if (promoted is not null)
                    {
                        var now = Stopwatch.GetTimestamp();
                        result = new PromotionResult(
                            promoted.Port,
                            promoted.Id,
                            DateTimeOffset.UtcNow,
                            since is { } start ? Stopwatch.GetElapsedTime(start, now) : null);
                        return true;
                    }
                }

                return false;
            },
            timeout,
            $"a replica of {dead.Endpoint} to be promoted to master of slots {slots}",
            ct: ct);
        return result!;
    }

    /// <summary>Waits until <paramref name="replicaPort"/> and <paramref name="masterPort"/> both see the first as a replica of the second.</summary>
    public async Task WaitForReplicaOfAsync(int replicaPort, int masterPort, TimeSpan timeout, CancellationToken ct = default)
    {
        var replica = Node(replicaPort);
        var master = Node(masterPort);
        await WaitUntilAsync(
            async token =>
            {
                foreach (var viewer in new[] { replica, master })
                {
                    var lines = await TryGetLinesAsync(viewer.Port, token);
                    var line = lines?.FirstOrDefault(l => l.Id == replica.Id);
                    if (line is null || !line.IsReplica || line.IsUnsettled || line.MasterId != master.Id)
                    {
                        return false;
                    }
                }

                return true;
            },
            timeout,
            $"{replica.Endpoint} to be a replica of {master.Endpoint} in both their views",
            ct: ct);
    }
}
