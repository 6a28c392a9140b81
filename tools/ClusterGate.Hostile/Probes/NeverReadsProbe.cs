using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using ClusterGate.Hostile.Net;
using ClusterGate.Hostile.Resp;
using ClusterGate.Hostile.Target;

namespace ClusterGate.Hostile.Probes;

/// <summary>
/// A client that pipelines GETs of a big value and never reads a reply. A gateway must stop reading it (backpressure)
/// or cut it off; one that keeps reading buffers the replies and grows. Stops itself before the machine runs out: when
/// the process under test, or the machine's memory in use (MemAvailable), grew by --rss-limit-mb, or when MemAvailable
/// falls under a quarter of the machine. The machine-wide reading matters: a gateway with backpressure leaves the
/// replies in the output buffer of the Redis node behind it, which is unlimited for normal clients by default.
/// </summary>
internal sealed class NeverReadsProbe : IProbe
{
    /// <summary>--value-size when not given.</summary>
    public const int DefaultValueSize = 100 * 1024;

    private const int CommandsPerSend = 1000;
    private const double MachineMemoryFloor = 0.25;
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(200);

    public string Name => "never-reads";

    public string Summary => "SET a --value-size value, then pipeline --pipeline-count GETs of it on one connection that never reads";

    public async Task<ProbeOutcome> RunAsync(ProbeContext context, CancellationToken ct)
    {
        var options = context.Options;
        var key = context.Key("big");
        var valueSize = options.ValueSize ?? DefaultValueSize;
        try
        {
            using var control = context.Control();
            var set = control.Execute("SET", key, new string('v', valueSize));
            if (set is not { Kind: RespKind.Simple, Line: "OK" })
            {
                return new ProbeOutcome { Reply = $"not run: SET {key} answered {set}" };
            }
        }
        catch (RespConnectionException e)
        {
            return new ProbeOutcome { Reply = $"not run: SET {key} through the port failed: {e.Message}" };
        }

        try
        {
            return await PipelineAsync(context, key, valueSize, ct);
        }
        finally
        {
            Cleanup(context, key);
        }
    }

    private static async Task<ProbeOutcome> PipelineAsync(ProbeContext context, string key, int valueSize, CancellationToken ct)
    {
        var options = context.Options;
        RawClient client;
        try
        {
            client = await RawClient.ConnectAsync(context.Target, options.ReplyTimeout, ct);
        }
        catch (SocketException e)
        {
            return new ProbeOutcome { Reply = "connect " + RawClient.Describe(e) };
        }

        using (client)
        {
            var command = Encoding.UTF8.GetBytes($"*2\r\n$3\r\nGET\r\n${Encoding.UTF8.GetByteCount(key)}\r\n{key}\r\n");
            var buffer = new byte[command.Length * CommandsPerSend];
            for (var i = 0; i < CommandsPerSend; i++)
            {
                command.CopyTo(buffer, i * command.Length);
            }

            using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var started = Stopwatch.GetTimestamp();
            long sent = 0;
            string? sendEnd = null;
            var sender = Task.Run(async () =>
            {
                try
                {
                    while (Volatile.Read(ref sent) < options.PipelineCount)
                    {
                        var n = (int)Math.Min(CommandsPerSend, options.PipelineCount - Volatile.Read(ref sent));
                        var data = buffer.AsMemory(0, n * command.Length);
                        while (!data.IsEmpty)
                        {
                            data = data[await client.Socket.SendAsync(data, SocketFlags.None, stopSending.Token)..];
                        }

                        Interlocked.Add(ref sent, n);
                    }
                }
                catch (OperationCanceledException)
                {
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                    sendEnd = RawClient.Describe(e);
                }
            }, CancellationToken.None);

            string? cutOff = null;
            string stopped;
            var limitKb = options.RssLimitMb * 1024L;
            var machineAtStart = ProcessWatch.ReadMachineMemory();
            var machineGrowthKb = 0L;
            while (true)
            {
                await Task.Delay(Tick, ct);
                var elapsed = Stopwatch.GetElapsedTime(started);
                if ((client.PeerState() ?? (sender.IsCompleted ? sendEnd : null)) is { } end)
                {
                    cutOff = $"cut off ({end}) after {Durations.Format(elapsed)}";
                    stopped = "the target closed the connection";
                    break;
                }

                if (context.ProcessGone)
                {
                    stopped = $"the process is gone after {Durations.Format(elapsed)}";
                    break;
                }

                if (context.Sampler.LatestRssKb is { } rss && rss > limitKb)
                {
                    stopped = $"stopped by the tool: RSS passed --rss-limit-mb {options.RssLimitMb} after {Durations.Format(elapsed)}";
                    break;
                }

                if (machineAtStart is { } m0 && ProcessWatch.ReadMachineMemory() is { } m)
                {
                    machineGrowthKb = Math.Max(machineGrowthKb, m0.AvailableKb - m.AvailableKb);
                    if (m0.AvailableKb - m.AvailableKb > limitKb || m.AvailableKb < m.TotalKb * MachineMemoryFloor)
                    {
                        stopped = $"stopped by the tool: the machine's memory in use grew by {machineGrowthKb / 1024} MB (guard: --rss-limit-mb {options.RssLimitMb}, or MemAvailable under {MachineMemoryFloor:P0}) after {Durations.Format(elapsed)}";
                        break;
                    }
                }

                if (elapsed > options.CutoffTimeout)
                {
                    stopped = $"not cut off in --cutoff-timeout {Durations.Format(options.CutoffTimeout)}";
                    break;
                }
            }

            await stopSending.CancelAsync();
            try
            {
                await sender.WaitAsync(options.ReplyTimeout, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                // A send the kernel still blocks: disposing the socket below ends it.
            }

            var sentText = $"{Volatile.Read(ref sent).ToString("N0", CultureInfo.InvariantCulture)} of {options.PipelineCount.ToString("N0", CultureInfo.InvariantCulture)} GETs sent";
            var outcome = new ProbeOutcome { Reply = $"{cutOff ?? stopped}; {sentText}" };
            outcome.Details.Add(stopped);
            outcome.Details.Add($"the machine's memory in use grew by up to {machineGrowthKb / 1024} MB (whatever buffered the replies: the target, the node behind it, socket buffers)");
            outcome.Details.Add($"GET {key} ({valueSize.ToString("N0", CultureInfo.InvariantCulture)} bytes) × {options.PipelineCount.ToString("N0", CultureInfo.InvariantCulture)}, replies never read; {sentText}");
            return outcome;
        }
    }

    private static void Cleanup(ProbeContext context, string key)
    {
        try
        {
            using var control = context.Control();
            control.Execute("DEL", key);
        }
        catch (RespConnectionException e)
        {
            context.Log($"never-reads: DEL {key} failed: {e.Message}");
        }
    }
}
