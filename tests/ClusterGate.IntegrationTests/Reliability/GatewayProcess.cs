using System.Diagnostics;
using System.Globalization;
using System.Text;
using ClusterGate.IntegrationTests.Host;
using ClusterGate.IntegrationTests.Infrastructure;
using ClusterGate.IntegrationTests.ShardPorts;

namespace ClusterGate.IntegrationTests.Reliability;

/// <summary>
/// The real <c>clustergate run</c> in a child process, for what only a process shows: its descriptor limit
/// (set with the shell's <c>ulimit -n</c> before it starts), whether it survives, its output. Killed by PID.
/// </summary>
internal sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private int _disposed;

    private GatewayProcess(Process process, int shardBasePort, int routerPort)
    {
        _process = process;
        ShardBasePort = shardBasePort;
        RouterPort = routerPort;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int ShardBasePort { get; }

    public int RouterPort { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Starts the gateway with at most <paramref name="descriptorLimit"/> open files and waits until both frontends answer.</summary>
    /// <param name="launcher">A command that runs the gateway's command line (e.g. <c>tools/no-io-uring.py</c>); none by default.</param>
    public static async Task<GatewayProcess> StartAsync(RedisCluster cluster, int descriptorLimit, IEnumerable<string> extraArguments, CancellationToken ct, IReadOnlyList<string>? launcher = null)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "clustergate.dll");
        var dotnet = ProcessRunner.FindOnPath("dotnet") ?? throw new InvalidOperationException("dotnet is not on PATH.");
        var basePort = ShardGateway.FreePortRange(ShardGateway.PortRange);
        var routerPort = CliProcess.UnusedPort();
        var startInfo = new ProcessStartInfo("/bin/bash")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add("ulimit -n \"$1\" && shift && exec \"$@\"");
        startInfo.ArgumentList.Add("gateway");
        startInfo.ArgumentList.Add(descriptorLimit.ToString(CultureInfo.InvariantCulture));
        var arguments = extraArguments.ToList();
        foreach (var argument in (string[])[.. launcher ?? [], dotnet, dll, "run", "--seed", $"127.0.0.1:{cluster.Nodes[0].Port}", "--bind", "127.0.0.1",
            "--shard-base-port", basePort.ToString(CultureInfo.InvariantCulture), "--router-port", routerPort.ToString(CultureInfo.InvariantCulture), .. arguments])
        {
            startInfo.ArgumentList.Add(argument);
        }

        var adminAt = arguments.IndexOf("--admin-port");
        int? adminPort = adminAt >= 0 && adminAt + 1 < arguments.Count ? int.Parse(arguments[adminAt + 1], CultureInfo.InvariantCulture) : null;
        var process = Process.Start(startInfo) ?? throw new InvalidOperationException("could not start the gateway");
        var gateway = new GatewayProcess(process, basePort, routerPort);
        try
        {
            await RedisCluster.WaitUntilAsync(
                async c => !process.HasExited && await AnswersAsync(routerPort, c) && await AnswersAsync(basePort, c) && await AdminListensAsync(adminPort, c),
                TimeSpan.FromSeconds(30),
                "the gateway process to serve its router and first shard port",
                ct: ct);
            return gateway;
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            // Stopped here: no caller holds it to stop it later.
            var output = gateway.Output;
            await gateway.DisposeAsync();
            throw new InvalidOperationException($"The gateway did not start; its output:\n{output}", ex);
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
    }

    /// <summary>The admin port (when one was asked for) takes connections: it starts after both frontends.</summary>
    private static async Task<bool> AdminListensAsync(int? port, CancellationToken ct)
    {
        if (port is null)
        {
            return true;
        }

        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(System.Net.IPAddress.Loopback, port.Value, ct);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    /// <summary>Open descriptors of the gateway process.</summary>
    public int OpenDescriptors() => Directory.EnumerateFileSystemEntries($"/proc/{Pid}/fd").Count();

    /// <summary>User plus system CPU time of a process so far (<c>/proc/PID/stat</c>, clock ticks of 10 ms).</summary>
    public static TimeSpan CpuTime(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromMilliseconds(ticks * 10);
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static async Task<bool> AnswersAsync(int port, CancellationToken ct)
    {
        try
        {
            await using var client = await RespClient.ConnectAsync(port, ct);
            // With a password the gateway answers a client that has not authenticated NOAUTH, as Redis does: it serves.
            return (await client.CallAsync(TimeSpan.FromSeconds(2), ct, "PING")).ToString() is "+PONG" or "-NOAUTH Authentication required.";
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or TimeoutException or EndOfStreamException)
        {
            return false;
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
