using System.Diagnostics;
using System.Globalization;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>
/// Makes sure no redis-server outlives the test host, even when the host crashes or is killed
/// before <see cref="RedisCluster.DisposeAsync"/> runs:
/// <list type="bullet">
/// <item>a watchdog shell per cluster blocks on a stdin pipe held by the test host; when the host
/// exits for any reason the pipe closes and the watchdog kills the pids in the cluster's pidfiles;</item>
/// <item>on start, leftover cluster directories whose owning test host is gone are swept the same way.</item>
/// </list>
/// A pid is only killed when its working directory is the node directory, so a recycled pid is safe.
/// </summary>
internal sealed class ProcessReaper : IDisposable
{
    public const string DirectoryPrefix = "clustergate-it-";
    private const string OwnerFile = "owner.pid";

    private const string WatchdogScript = """
        cat >/dev/null
        for f in "$1"/*/redis.pid; do
          [ -f "$f" ] || continue
          pid=$(cat "$f")
          [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$(dirname "$f")" ] && kill -9 "$pid" 2>/dev/null
        done
        rm -rf "$1"
        """;

    private readonly Process _watchdog;

    private ProcessReaper(Process watchdog) => _watchdog = watchdog;

    public static ProcessReaper Start(string clusterDirectory)
    {
        File.WriteAllText(
            Path.Combine(clusterDirectory, OwnerFile),
            Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        var startInfo = new ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
        };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add(WatchdogScript);
        startInfo.ArgumentList.Add("clustergate-watchdog");
        startInfo.ArgumentList.Add(clusterDirectory);
        var watchdog = Process.Start(startInfo)
            ?? throw new InvalidOperationException("Could not start the redis-server watchdog (/bin/sh).");
        return new ProcessReaper(watchdog);
    }

    /// <summary>Kills redis-servers and deletes directories left by test hosts that no longer run.</summary>
    public static void SweepLeftovers()
    {
        foreach (var dir in Directory.EnumerateDirectories(Path.GetTempPath(), DirectoryPrefix + "*"))
        {
            try
            {
                var ownerPath = Path.Combine(dir, OwnerFile);
                if (!File.Exists(ownerPath)
                    || !int.TryParse(File.ReadAllText(ownerPath), CultureInfo.InvariantCulture, out var owner)
                    || IsAlive(owner))
                {
                    continue;
                }

                KillNodesIn(dir);
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
                // Another test host may be sweeping the same directory.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours to clean.
            }
        }
    }

    /// <summary>Kills every live redis-server whose pidfile is under <paramref name="clusterDirectory"/>.</summary>
    public static void KillNodesIn(string clusterDirectory)
    {
        if (!Directory.Exists(clusterDirectory))
        {
            return;
        }

        foreach (var pidFile in Directory.EnumerateFiles(clusterDirectory, "redis.pid", SearchOption.AllDirectories))
        {
            if (!int.TryParse(File.ReadAllText(pidFile).Trim(), CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            var nodeDir = Path.GetDirectoryName(pidFile)!;
            string? cwd;
            try
            {
                cwd = new DirectoryInfo(string.Create(CultureInfo.InvariantCulture, $"/proc/{pid}/cwd")).LinkTarget;
            }
            catch (IOException)
            {
                continue;
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            if (!string.Equals(cwd, nodeDir, StringComparison.Ordinal))
            {
                continue;
            }

            try
            {
                using var process = Process.GetProcessById(pid);
                process.Kill();
                process.WaitForExit(5000);
            }
            catch (ArgumentException)
            {
                // Exited already.
            }
            catch (InvalidOperationException)
            {
                // Exited already.
            }
        }
    }

    public void Dispose()
    {
        // Closing stdin is the watchdog's signal; by now the cluster has cleaned up after itself.
        try
        {
            _watchdog.StandardInput.Close();
            if (!_watchdog.WaitForExit(5000))
            {
                _watchdog.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        catch (IOException)
        {
            // Pipe already broken: the watchdog is gone.
        }

        _watchdog.Dispose();
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
