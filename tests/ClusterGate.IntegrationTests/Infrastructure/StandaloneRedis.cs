using System.Globalization;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>
/// One plain (non-cluster) <c>redis-server</c> on a free loopback port, in its own temp directory under the same
/// reaper as the clusters: the reference a client battery runs against to show that its expectations are Redis's own.
/// </summary>
public sealed class StandaloneRedis : IAsyncDisposable
{
    private readonly ProcessReaper _reaper;
    private readonly RedisNodeProcess _node;
    private int _disposed;

    private StandaloneRedis(string directory, ProcessReaper reaper, RedisNodeProcess node)
    {
        Directory = directory;
        _reaper = reaper;
        _node = node;
    }

    public int Port => _node.Port;

    public int Pid => _node.Pid;

    public string Directory { get; }

    /// <exception cref="InvalidOperationException">redis-server is missing.</exception>
    public static async Task<StandaloneRedis> StartAsync(CancellationToken ct = default)
    {
        var redisServer = ProcessRunner.FindOnPath("redis-server")
            ?? throw new InvalidOperationException(
                "redis-server not found on PATH: integration tests need a real Redis. Install with: apt-get update && apt-get install -y redis-server redis-tools");
        ProcessReaper.SweepLeftovers();

        // A port chosen free can be taken before redis binds it; then start over on a fresh one.
        const int attempts = 3;
        for (var attempt = 1; ; attempt++)
        {
            var directory = Path.Combine(Path.GetTempPath(), ProcessReaper.DirectoryPrefix + "standalone-" + Guid.NewGuid().ToString("N")[..12]);
            System.IO.Directory.CreateDirectory(directory);
            var reaper = ProcessReaper.Start(directory);
            var nodeDirectory = Path.Combine(directory, "n0");
            System.IO.Directory.CreateDirectory(nodeDirectory);
            var node = new RedisNodeProcess(RedisCluster.FreePorts(1)[0], 0, nodeDirectory);
            await File.WriteAllTextAsync(node.ConfigPath, Config(node), ct);
            var redis = new StandaloneRedis(directory, reaper, node);
            try
            {
                node.Start(redisServer);
                await RedisCluster.WaitForPingAsync(node, TimeSpan.FromSeconds(10), ct);
                return redis;
            }
            catch (RedisCluster.PortInUseException) when (attempt < attempts)
            {
                await redis.DisposeAsync();
            }
            catch
            {
                await redis.DisposeAsync();
                throw;
            }
        }
    }

    private static string Config(RedisNodeProcess node) => string.Create(CultureInfo.InvariantCulture, $"""
        bind 127.0.0.1
        port {node.Port}
        save ""
        appendonly no
        daemonize no
        dir {node.Directory}
        pidfile {Path.Combine(node.Directory, "redis.pid")}
        logfile {node.LogPath}
        """);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _node.Dispose();
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
}
