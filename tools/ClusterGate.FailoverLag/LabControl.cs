using System.Diagnostics;
using System.Globalization;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Topology;

namespace ClusterGate.FailoverLag;

/// <summary>Control commands on lab nodes: one short-lived connection each, every call bounded.</summary>
internal sealed class LabControl(TimeSpan timeout, string? labScript, Action<string> log)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(2);

    public static async Task<string> CommandAsync(NodeEndpoint node, string[] command, CancellationToken ct)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(CommandTimeout);
        await using var connection = await ControlConnection.ConnectAsync(node, RespLimits.Default, bounded.Token);
        var reply = await connection.ExecuteAsync(command, bounded.Token);
        return reply.Type == RespType.Error
            ? throw new InvalidOperationException($"{node}: {string.Join(' ', command)}: {reply.AsString()}")
            : reply.AsString();
    }

    /// <summary>The node's <c>config_file</c> (from <c>INFO server</c>), needed to start it again.</summary>
    public static async Task<string> ConfigFileAsync(NodeEndpoint node, CancellationToken ct)
    {
        var info = await CommandAsync(node, ["INFO", "server"], ct);
        var line = info.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith("config_file:", StringComparison.Ordinal));
        return line is { Length: > 12 } ? line[12..] : throw new InvalidOperationException($"{node} has no config_file: it cannot be restarted");
    }

    /// <summary>Sends <c>DEBUG SEGFAULT</c>; returns the <see cref="Stopwatch"/> timestamp it was sent at.</summary>
    public async Task<long> SegfaultAsync(NodeEndpoint node, CancellationToken ct)
    {
        await using var connection = await ControlConnection.ConnectAsync(node, RespLimits.Default, ct);
        var sent = Stopwatch.GetTimestamp();
        try
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
            bounded.CancelAfter(timeout);
            var reply = await connection.ExecuteAsync(["DEBUG", "SEGFAULT"], bounded.Token);
            throw new InvalidOperationException($"{node} answered DEBUG SEGFAULT instead of crashing: {reply.AsString()} (enable-debug-command?)");
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidDataException)
        {
            // The node dies instead of answering: expected.
        }

        return sent;
    }

    /// <summary>Starts the node again: through <c>lab.sh restart</c> when the node lives in a lab directory, else redis-server.</summary>
    public async Task RestartAsync(NodeEndpoint node, string configFile, int basePort, CancellationToken ct)
    {
        var nodeDir = Path.GetDirectoryName(configFile)!;
        var labDir = Path.GetDirectoryName(nodeDir)!;
        var script = labScript ?? FindLabScript(labDir);
        var (file, args) = script is not null
            ? ("bash", new[] { script, "restart", node.Port.ToString(CultureInfo.InvariantCulture), "--base-port", basePort.ToString(CultureInfo.InvariantCulture), "--dir", labDir })
            : ("redis-server", new[] { configFile, "--daemonize", "yes" });
        log($"restart: {file} {string.Join(' ', args)}");
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(bounded.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new LagStepException($"{file} {string.Join(' ', args)} did not finish within {timeout.TotalSeconds:0} s");
        }

        if (process.ExitCode != 0)
        {
            throw new LagStepException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await stderr}{await stdout}");
        }
    }

    private static string? FindLabScript(string labDir)
    {
        for (var dir = new DirectoryInfo(labDir); dir is not null; dir = dir.Parent)
        {
            foreach (var candidate in new[] { Path.Combine(dir.FullName, "lab.sh"), Path.Combine(dir.FullName, "cluster-lab", "lab.sh") })
            {
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
