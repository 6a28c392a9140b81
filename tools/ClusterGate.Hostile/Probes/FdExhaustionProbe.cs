using System.Globalization;
using System.Net.Sockets;
using ClusterGate.Hostile.Net;
using ClusterGate.Hostile.Target;

namespace ClusterGate.Hostile.Probes;

/// <summary>
/// Lowers the target's descriptor limit (prlimit), then opens more connections than it allows. A server with a client
/// limit answers the extra ones "-ERR max number of clients reached" and keeps serving the rest; one without it may stop
/// accepting or crash. The old limit is put back at the end, also when the probe fails.
/// </summary>
/// <remarks>
/// Only the soft limit is lowered (it is the one accept() and connect() hit); the hard limit stays, because raising
/// a hard limit back needs CAP_SYS_RESOURCE, which containers often drop, and the limit could then not be restored.
/// </remarks>
internal sealed class FdExhaustionProbe : IProbe
{
    private const int ConnectBatch = 100;
    private static readonly byte[] Ping = "*1\r\n$4\r\nPING\r\n"u8.ToArray();
    private static readonly TimeSpan HoldWhileExhausted = TimeSpan.FromSeconds(2);

    public string Name => "fd-exhaustion";

    public string Summary => "with --pid: prlimit the process to --fd-limit descriptors, open --fd-connections connections (PING on each), then restore";

    public async Task<ProbeOutcome> RunAsync(ProbeContext context, CancellationToken ct)
    {
        var options = context.Options;
        if (context.Process.Pid is not { } pid)
        {
            return ProbeOutcome.Skip("needs --pid");
        }

        var old = ResourceLimits.Get(pid);
        var lowered = new RLimit { Soft = Math.Min((ulong)options.FdLimit, old.Hard), Hard = old.Hard };
        context.Log($"fd-exhaustion: pid {pid} RLIMIT_NOFILE {old} → {lowered} (by hand: prlimit --pid {pid} --nofile={old.Soft}:{old.Hard})");
        ResourceLimits.Set(pid, lowered);
        var clients = new List<RawClient>();
        ProbeOutcome outcome;
        string restored;
        try
        {
            var served = new ReplyTally();
            clients = await Crowd.OpenAsync(context.Target, options.FdConnections, ConnectBatch, options.ReplyTimeout, async client =>
            {
                client.StartReading();
                var sendError = await client.SendAsync(Ping, options.ReplyTimeout, ct);
                var capture = await client.WaitReplyAsync(options.ReplyTimeout, ct);
                served.Add(capture.FirstBytes.Length == 0 && sendError is not null ? sendError : ReplyText.Class(capture, options.ReplyTimeout), ReplyText.Describe(capture, options.ReplyTimeout, ReplyText.SampleBytes));
            }, served, () => context.ProcessGone, ct);

            await Task.Delay(HoldWhileExhausted, ct);
            var whileHeld = await Shot.FireAsync(context.Target, Ping, options.ReplyTimeout, options.ReplyTimeout, ct);
            static bool Pong(string kind) => kind.StartsWith("+PONG", StringComparison.Ordinal);
            var accepted = served.Count(Pong);
            var attempted = served.Count(_ => true);
            var n = (int value) => value.ToString("N0", CultureInfo.InvariantCulture);
            var reply = $"{n(accepted)} of {n(options.FdConnections)} served (PONG)";
            if (attempted > accepted)
            {
                reply += $"; refused: {served.Summary(3, kind => !Pong(kind))}";
            }

            if (attempted < options.FdConnections)
            {
                reply += $"; {n(options.FdConnections - attempted)} not tried (the process is gone)";
            }

            outcome = new ProbeOutcome { Reply = reply };
            outcome.Details.Add($"a new connection's PING while the {n(clients.Count)} were held: {whileHeld}");
            outcome.Details.AddRange(served.Samples());
        }
        finally
        {
            Crowd.DisposeAll(clients);
            restored = Restore(context, pid, old);
            context.Log($"fd-exhaustion: pid {pid} RLIMIT_NOFILE {restored}");
        }

        outcome.Details.Insert(0, $"RLIMIT_NOFILE {old} → {lowered} during the probe; {restored}");
        return outcome;
    }

    /// <summary>Puts the old limit back; says what happened (it is also the line under the table).</summary>
    private static string Restore(ProbeContext context, int pid, RLimit old)
    {
        if (context.ProcessGone)
        {
            return "not restored: the process is gone";
        }

        try
        {
            ResourceLimits.Set(pid, old);
            return $"restored to {old}";
        }
        catch (InvalidOperationException e)
        {
            return $"NOT restored to {old}: {e.Message}";
        }
    }
}
