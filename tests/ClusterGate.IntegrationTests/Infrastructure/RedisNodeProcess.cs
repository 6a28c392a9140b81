using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>
/// One <c>redis-server</c> started in the foreground (not daemonized), so the <see cref="Process"/>
/// object owns its pid. The node keeps its config file and directory across restarts, so a restarted
/// node reloads its <c>nodes.conf</c> and rejoins the cluster with the same id.
/// </summary>
public sealed class RedisNodeProcess : IDisposable
{
    private const int OutputLinesKept = 50;

    private readonly object _gate = new();
    private readonly Queue<string> _output = new();
    private Process? _process;

    internal RedisNodeProcess(int port, int busPort, string directory)
    {
        Port = port;
        BusPort = busPort;
        Directory = directory;
    }

    public int Port { get; }

    public int BusPort { get; }

    /// <summary>"127.0.0.1:port", the address the node announces.</summary>
    public string Endpoint => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    /// <summary>The node's own directory: redis.conf, nodes.conf, redis.pid, redis.log.</summary>
    public string Directory { get; }

    public string ConfigPath => Path.Combine(Directory, "redis.conf");

    public string LogPath => Path.Combine(Directory, "redis.log");

    /// <summary>Cluster node id, known once the cluster is created; stable across restarts.</summary>
    public string Id { get; internal set; } = "";

    /// <summary>Pid of the current process, or 0 when it was never started.</summary>
    public int Pid { get; private set; }

    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return _process is { HasExited: false };
            }
        }
    }

    internal void Start(string redisServerPath)
    {
        lock (_gate)
        {
            if (_process is { HasExited: false })
            {
                throw new InvalidOperationException($"Node {Endpoint} is already running (pid {Pid}).");
            }

            _process?.Dispose();
            var startInfo = new ProcessStartInfo(redisServerPath)
            {
                WorkingDirectory = Directory,
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = false,
            };
            startInfo.ArgumentList.Add(ConfigPath);
            var process = new Process { StartInfo = startInfo };
            process.OutputDataReceived += (_, e) => Remember(e.Data);
            process.ErrorDataReceived += (_, e) => Remember(e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _process = process;
            Pid = process.Id;
        }
    }

    /// <summary>Waits until the process has exited; false when it is still running at the deadline.</summary>
    internal async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken ct)
    {
        Process? process;
        lock (_gate)
        {
            process = _process;
        }

        if (process is null)
        {
            return true;
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>SIGKILL, then a bounded wait for the exit.</summary>
    internal void Kill()
    {
        lock (_gate)
        {
            if (_process is null)
            {
                return;
            }

            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: false);
                    _process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
                // Exited between the check and the kill.
            }
        }
    }

    /// <summary>The last lines of stdout/stderr and of redis.log, for failure messages.</summary>
    public string Diagnostics()
    {
        var text = new StringBuilder();
        lock (_output)
        {
            foreach (var line in _output)
            {
                text.AppendLine(line);
            }
        }

        try
        {
            if (File.Exists(LogPath))
            {
                foreach (var line in File.ReadLines(LogPath).TakeLast(OutputLinesKept))
                {
                    text.AppendLine(line);
                }
            }
        }
        catch (IOException)
        {
            // The log is only a diagnostic aid.
        }

        return text.ToString();
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Endpoint} (bus {BusPort}, pid {Pid}, {(IsRunning ? "running" : "stopped")})");

    public void Dispose()
    {
        Kill();
        lock (_gate)
        {
            _process?.Dispose();
            _process = null;
        }
    }

    private void Remember(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Enqueue(line);
            while (_output.Count > OutputLinesKept)
            {
                _output.Dequeue();
            }
        }
    }
}
