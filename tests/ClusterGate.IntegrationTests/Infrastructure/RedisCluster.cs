using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>
/// A real 6-node Redis Cluster (3 masters, 3 replicas) of foreground <c>redis-server</c> processes on
/// free loopback ports, in a fresh temp directory. Every wait is bounded and ends in a
/// <see cref="TimeoutException"/> that says what it waited for. Dispose kills every process and
/// deletes the directory; a watchdog does the same if the test host dies first.
/// </summary>
public sealed partial class RedisCluster : IAsyncDisposable
{
    public const int NodeCount = 6;
    public const int SlotCount = 16384;

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan CliTimeout = TimeSpan.FromSeconds(30);

    private readonly string _redisServer;
    private readonly string _redisCli;
    private readonly ProcessReaper _reaper;
    private readonly List<RedisNodeProcess> _nodes;
    private readonly string? _password;
    private readonly Dictionary<int, (string Id, string Slots, long SegfaultTimestamp)> _killedMasters = [];
    private readonly HashSet<int> _paused = [];
    private int _disposed;

    private RedisCluster(string directory, string redisServer, string redisCli, ProcessReaper reaper, List<RedisNodeProcess> nodes, string? password)
    {
        Directory = directory;
        _password = password;
        _redisServer = redisServer;
        _redisCli = redisCli;
        _reaper = reaper;
        _nodes = nodes;
    }

    public IReadOnlyList<RedisNodeProcess> Nodes => _nodes;

    /// <summary>The temp directory holding one sub-directory per node.</summary>
    public string Directory { get; }

    /// <summary>Starts 6 nodes, creates the cluster and waits until every node agrees on it.</summary>
    /// <exception cref="InvalidOperationException">redis-server or redis-cli is missing.</exception>
    /// <exception cref="TimeoutException">A step did not complete within its bound.</exception>
    public static async Task<RedisCluster> StartAsync(RedisClusterOptions? options = null, CancellationToken ct = default)
    {
        options ??= new RedisClusterOptions();
        var redisServer = ProcessRunner.FindOnPath("redis-server");
        var redisCli = ProcessRunner.FindOnPath("redis-cli");
        if (redisServer is null || redisCli is null)
        {
            var missing = string.Join(" and ", new[] { redisServer is null ? "redis-server" : null, redisCli is null ? "redis-cli" : null }.OfType<string>());
            throw new InvalidOperationException(
                $"{missing} not found on PATH: integration tests need a real Redis. Install with: apt-get update && apt-get install -y redis-server redis-tools");
        }

        ProcessReaper.SweepLeftovers();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(options.StartTimeout);

        // A port chosen free can be taken before redis binds it; then start over on fresh ports.
        const int attempts = 3;
        for (var attempt = 1; ; attempt++)
        {
            var cluster = Create(redisServer, redisCli, options);
            try
            {
                await cluster.StartNodesAsync(cts.Token);
                await cluster.CreateClusterAsync(cts.Token);
                await cluster.WaitForConvergenceAsync(options.StartTimeout, cts.Token);
                foreach (var node in cluster._nodes)
                {
                    node.Id = await RespProbe.SendForStringAsync(node.Port, ProbeTimeout, cts.Token, "CLUSTER", "MYID");
                }

                return cluster;
            }
            catch (PortInUseException) when (attempt < attempts)
            {
                await cluster.DisposeAsync();
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                await cluster.DisposeAsync();
                throw new TimeoutException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"The 6-node cluster did not start within {options.StartTimeout.TotalSeconds:0} s."));
            }
            catch
            {
                await cluster.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>
    /// Runs <c>redis-cli -h 127.0.0.1 -p PORT args...</c> (bounded) and returns its stdout. redis-cli
    /// writes to a pipe here, so its output is the raw form: bare values, one per line, no
    /// "(integer)" or quotes. Pass "--no-raw" as the first argument for the terminal form. redis-cli
    /// exits 0 on error replies too; they come back as text ("ERR ..."). Arguments are not
    /// binary-safe: use a socket for binary keys.
    /// </summary>
    public async Task<string> CliAsync(int port, params string[] args) => await CliAsync(port, args, CancellationToken.None);

    /// <inheritdoc cref="CliAsync(int, string[])"/>
    public async Task<string> CliAsync(int port, IEnumerable<string> args, CancellationToken ct)
    {
        var all = new List<string> { "-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture) };
        all.AddRange(AuthArguments());
        all.AddRange(args);
        var (exitCode, stdout, stderr) = await ProcessRunner.RunAsync(_redisCli, all, CliTimeout, ct);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"redis-cli {string.Join(' ', all)} exited with {exitCode}: {stderr}{stdout}");
        }

        return stdout;
    }

    /// <summary>The raw <c>CLUSTER NODES</c> text as seen by the node on <paramref name="port"/>.</summary>
    public Task<string> ClusterNodesAsync(int port, CancellationToken ct = default) =>
        RespProbe.SendForStringAsync(Node(port).Port, ProbeTimeout, ct, "CLUSTER", "NODES");

    /// <summary><c>CLUSTER NODES</c> of the node on <paramref name="port"/>, parsed.</summary>
    public async Task<IReadOnlyList<ClusterNodeLine>> ClusterNodeLinesAsync(int port, CancellationToken ct = default) =>
        ClusterNodeLine.ParseAll(await ClusterNodesAsync(port, ct));

    public RedisNodeProcess Node(int port) =>
        _nodes.Find(n => n.Port == port) ?? throw new ArgumentException($"No node on port {port} in this cluster.", nameof(port));

    /// <summary>Ports of the masters, as the first running node sees them (failed ones excluded).</summary>
    public async Task<IReadOnlyList<int>> MasterPortsAsync(CancellationToken ct = default)
    {
        var lines = await ClusterNodeLinesAsync(FirstRunningNode().Port, ct);
        return [.. lines.Where(l => l.IsMaster && !l.IsUnsettled && l.Slots.Length > 0).Select(l => l.Port).Order()];
    }

    /// <summary>
    /// Port of the master that owns <paramref name="slot"/>: among the claims in every running node's
    /// <c>CLUSTER NODES</c>, the live master with the highest config epoch (the cluster's own rule),
    /// so a node that has not yet heard of a failover does not decide the answer.
    /// </summary>
    public async Task<int> MasterPortForSlotAsync(int slot, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, SlotCount);
        ClusterNodeLine? owner = null;
        foreach (var node in _nodes.Where(n => n.IsRunning))
        {
            var lines = await TryGetLinesAsync(node.Port, ct);
            foreach (var line in lines ?? [])
            {
                if (line.IsMaster && !line.HasFlag("fail") && line.OwnsSlot(slot)
                    && (owner is null || line.ConfigEpoch > owner.ConfigEpoch))
                {
                    owner = line;
                }
            }
        }

        return owner?.Port ?? throw new InvalidOperationException($"No running node knows a live master for slot {slot}.");
    }

    /// <summary>
    /// Waits until every running node reports <c>cluster_state:ok</c>, knows all 6 nodes, has all
    /// 16384 slots assigned, shows the same masters/slots/replicas with no failed or handshaking node,
    /// and every replica's link to its master is up.
    /// </summary>
    /// <summary>
    /// Waits until every replica of the master at <paramref name="masterPort"/> acknowledged what the master had written
    /// when this was called (what <c>WAIT</c> does, for the writes of every connection, not one). Redis replicates
    /// asynchronously: only writes the replica acknowledged survive the master's crash for sure.
    /// </summary>
    public async Task WaitForReplicasToCatchUpAsync(int masterPort, TimeSpan timeout, CancellationToken ct = default)
    {
        var target = ReplicationField(await CliAsync(masterPort, ["INFO", "replication"], ct), "master_repl_offset");
        var problem = "";
        await WaitUntilAsync(
            async token => (problem = ReplicaBehind(await CliAsync(masterPort, ["INFO", "replication"], token), target) ?? "") == "",
            timeout,
            $"the replicas of 127.0.0.1:{masterPort} to acknowledge offset {target}",
            () => problem,
            ct);
    }

    /// <summary>
    /// From a master's <c>INFO replication</c>: why a replica is not caught up with <paramref name="target"/> (default: the
    /// master's offset now), or null when every one is online at or past it (or it has none).
    /// </summary>
    private static string? ReplicaBehind(string replication, long? target = null)
    {
        if (!replication.Contains("role:master", StringComparison.Ordinal))
        {
            return null;
        }

        var wanted = target ?? ReplicationField(replication, "master_repl_offset");
        foreach (var line in replication.Split('\n').Select(l => l.Trim()).Where(l => l.StartsWith("slave", StringComparison.Ordinal) && l.Contains(":ip=", StringComparison.Ordinal)))
        {
            var fields = line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Split(',')
                .Select(f => f.Split('=', 2)).Where(f => f.Length == 2).ToDictionary(f => f[0], f => f[1], StringComparer.Ordinal);
            var offset = fields.TryGetValue("offset", out var text) && long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : -1;
            if (fields.GetValueOrDefault("state") != "online" || offset < wanted)
            {
                return $"replica {fields.GetValueOrDefault("port")} is {fields.GetValueOrDefault("state")} at offset {offset}, the master at {wanted}";
            }
        }

        return null;
    }

    private static long ReplicationField(string replication, string name)
    {
        var line = replication.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.Ordinal));
        return line is not null && long.TryParse(line[(name.Length + 1)..], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;
    }

    public Task WaitForConvergenceAsync(TimeSpan timeout, CancellationToken ct = default)
    {
        var problem = "";
        return WaitUntilAsync(
            async token =>
            {
                (var converged, problem) = await CheckConvergenceAsync(token);
                return converged;
            },
            timeout,
            "the cluster to converge",
            () => problem,
            ct);
    }

    /// <summary>Polls <paramref name="condition"/> every 50 ms until true; a clear TimeoutException after <paramref name="timeout"/>.</summary>
    public static async Task WaitUntilAsync(
        Func<CancellationToken, Task<bool>> condition,
        TimeSpan timeout,
        string description,
        Func<string>? lastProblem = null,
        CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var start = Stopwatch.GetTimestamp();
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (await condition(ct))
            {
                return;
            }

            if (Stopwatch.GetElapsedTime(start) >= timeout)
            {
                var detail = lastProblem?.Invoke();
                throw new TimeoutException(string.Create(
                    CultureInfo.InvariantCulture,
                    $"Timed out after {timeout.TotalSeconds:0.#} s waiting for {description}.{(string.IsNullOrEmpty(detail) ? "" : " Last problem: " + detail)}"));
            }

            await Task.Delay(PollInterval, ct);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var node in _nodes)
        {
            node.Dispose();
            if (_password is not null)
            {
                RespProbe.Forget(node.Port);
            }
        }

        // Anything the Process objects lost track of (should be nothing).
        ProcessReaper.KillNodesIn(Directory);
        _reaper.Dispose();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                if (System.IO.Directory.Exists(Directory))
                {
                    System.IO.Directory.Delete(Directory, recursive: true);
                }

                break;
            }
            catch (IOException)
            {
                await Task.Delay(100);
            }
        }
    }

    private static RedisCluster Create(string redisServer, string redisCli, RedisClusterOptions options)
    {
        var directory = Path.Combine(Path.GetTempPath(), ProcessReaper.DirectoryPrefix + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        var reaper = ProcessReaper.Start(directory);
        var ports = FreePorts(NodeCount * 2);
        var nodes = new List<RedisNodeProcess>(NodeCount);
        for (var i = 0; i < NodeCount; i++)
        {
            var nodeDir = Path.Combine(directory, "n" + i.ToString(CultureInfo.InvariantCulture));
            System.IO.Directory.CreateDirectory(nodeDir);
            var node = new RedisNodeProcess(ports[i], ports[NodeCount + i], nodeDir);
            File.WriteAllText(node.ConfigPath, Config(node, options));
            nodes.Add(node);
            if (options.Password is { } password)
            {
                RespProbe.Authenticate(node.Port, password);
            }
        }

        return new RedisCluster(directory, redisServer, redisCli, reaper, nodes, options.Password);
    }

    /// <summary>redis-cli's AUTH options when the nodes require a password, without its warning on stderr.</summary>
    private string[] AuthArguments() => _password is null ? [] : ["-a", _password, "--no-auth-warning"];

    private static string Config(RedisNodeProcess node, RedisClusterOptions options)
    {
        var config = new StringBuilder();
        config.AppendLine(CultureInfo.InvariantCulture, $"""
            bind 127.0.0.1
            port {node.Port}
            cluster-enabled yes
            cluster-port {node.BusPort}
            cluster-config-file nodes.conf
            cluster-node-timeout {(long)options.NodeTimeout.TotalMilliseconds}
            cluster-replica-validity-factor 0
            enable-debug-command yes
            crash-memcheck-enabled no
            save ""
            appendonly no
            repl-diskless-sync-delay 0
            daemonize no
            dir {node.Directory}
            pidfile {Path.Combine(node.Directory, "redis.pid")}
            logfile {node.LogPath}
            """);
        if (options.Password is { } password)
        {
            config.AppendLine(CultureInfo.InvariantCulture, $"requirepass {password}");
            config.AppendLine(CultureInfo.InvariantCulture, $"masterauth {password}");
        }

        foreach (var line in options.ExtraConfig)
        {
            config.AppendLine(line);
        }

        return config.ToString();
    }

    /// <summary>Distinct ports that were free a moment ago, each chosen independently by the OS.</summary>
    internal static int[] FreePorts(int count)
    {
        var ports = new HashSet<int>();
        var listeners = new List<TcpListener>();
        try
        {
            // Hold every listener until all are chosen so the OS cannot hand out the same port twice.
            while (ports.Count < count)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
                ports.Add(((IPEndPoint)listener.LocalEndpoint).Port);
            }
        }
        finally
        {
            foreach (var listener in listeners)
            {
                listener.Stop();
                listener.Dispose();
            }
        }

        return [.. ports];
    }

    private async Task StartNodesAsync(CancellationToken ct)
    {
        foreach (var node in _nodes)
        {
            node.Start(_redisServer);
        }

        foreach (var node in _nodes)
        {
            await WaitForPingAsync(node, TimeSpan.FromSeconds(10), ct);
        }
    }

    internal static async Task WaitForPingAsync(RedisNodeProcess node, TimeSpan timeout, CancellationToken ct)
    {
        await WaitUntilAsync(
            async token =>
            {
                if (!node.IsRunning)
                {
                    var diagnostics = node.Diagnostics();
                    if (diagnostics.Contains("Address already in use", StringComparison.Ordinal))
                    {
                        throw new PortInUseException($"Node {node} could not bind its ports:\n{diagnostics}");
                    }

                    throw new InvalidOperationException($"redis-server for {node} exited during start:\n{diagnostics}");
                }

                try
                {
                    return await RespProbe.SendAsync(node.Port, ProbeTimeout, token, "PING") as string == "PONG";
                }
                catch (Exception e) when (e is IOException or SocketException or TimeoutException or RespErrorException)
                {
                    return false;
                }
            },
            timeout,
            $"{node.Endpoint} to answer PING",
            ct: ct);
    }

    private async Task CreateClusterAsync(CancellationToken ct)
    {
        var args = new List<string> { "--cluster", "create" };
        args.AddRange(_nodes.Select(n => n.Endpoint));
        args.AddRange(["--cluster-replicas", "1", "--cluster-yes"]);
        args.AddRange(AuthArguments());
        var (exitCode, stdout, stderr) = await ProcessRunner.RunAsync(_redisCli, args, TimeSpan.FromSeconds(60), ct);
        if (exitCode != 0 || !stdout.Contains("All 16384 slots covered", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"redis-cli --cluster create failed (exit {exitCode}):\n{stdout}\n{stderr}");
        }
    }

    private async Task<(bool Converged, string Problem)> CheckConvergenceAsync(CancellationToken ct)
    {
        string? expected = null;
        foreach (var node in _nodes.Where(n => n.IsRunning))
        {
            string info;
            string nodes;
            string replication;
            try
            {
                info = await RespProbe.SendForStringAsync(node.Port, ProbeTimeout, ct, "CLUSTER", "INFO");
                nodes = await RespProbe.SendForStringAsync(node.Port, ProbeTimeout, ct, "CLUSTER", "NODES");
                replication = await RespProbe.SendForStringAsync(node.Port, ProbeTimeout, ct, "INFO", "replication");
            }
            catch (Exception e) when (e is IOException or SocketException or TimeoutException or RespErrorException)
            {
                return (false, $"{node.Endpoint}: {e.Message}");
            }

            foreach (var wanted in new[] { "cluster_state:ok", $"cluster_known_nodes:{NodeCount}", $"cluster_slots_assigned:{SlotCount}" })
            {
                if (!info.Contains(wanted, StringComparison.Ordinal))
                {
                    return (false, $"{node.Endpoint} lacks {wanted}");
                }
            }

            if (replication.Contains("role:slave", StringComparison.Ordinal)
                && !replication.Contains("master_link_status:up", StringComparison.Ordinal))
            {
                return (false, $"{node.Endpoint}: replication link not up yet");
            }

            // A replica's link is up once it loaded the master's RDB, but after a diskless sync the master streams
            // commands to it only from its first REPLCONF ACK (up to a second later): writes meanwhile wait in the master's
            // buffer and die with it. Converged means every replica has acknowledged the master's offset.
            if (ReplicaBehind(replication) is { } behind)
            {
                return (false, $"{node.Endpoint}: {behind}");
            }

            var lines = ClusterNodeLine.ParseAll(nodes);
            if (lines.Count != NodeCount || lines.Any(l => l.IsUnsettled))
            {
                return (false, $"{node.Endpoint} sees {lines.Count} nodes, unsettled: {string.Join(", ", lines.Where(l => l.IsUnsettled).Select(l => l.Port + " " + l.Flags))}");
            }

            var signature = string.Join('\n', lines
                .Select(l => $"{l.Id} {(l.IsMaster ? "master" : "replica")} {(l.IsMaster ? "-" : l.MasterId)} {l.Slots}")
                .Order(StringComparer.Ordinal));
            if (expected is null)
            {
                expected = signature;
            }
            else if (expected != signature)
            {
                return (false, $"{node.Endpoint} disagrees with the other nodes on masters/slots/replicas");
            }
        }

        return (expected is not null, expected is null ? "no node running" : "");
    }

    private static async Task<IReadOnlyList<ClusterNodeLine>?> TryGetLinesAsync(int port, CancellationToken ct)
    {
        try
        {
            return ClusterNodeLine.ParseAll(await RespProbe.SendForStringAsync(port, ProbeTimeout, ct, "CLUSTER", "NODES"));
        }
        catch (Exception e) when (e is IOException or SocketException or TimeoutException or RespErrorException)
        {
            return null;
        }
    }

    private RedisNodeProcess FirstRunningNode() =>
        _nodes.Find(n => n.IsRunning) ?? throw new InvalidOperationException("No node of the cluster is running.");

    internal sealed class PortInUseException(string message) : Exception(message);
}

/// <summary>Which node took over a dead master's slots, and when that was first visible.</summary>
/// <param name="AfterSegfault">Time from DEBUG SEGFAULT to visibility, when the kill went through the fixture.</param>
public sealed record PromotionResult(int Port, string NodeId, DateTimeOffset VisibleAt, TimeSpan? AfterSegfault);
