using System.Text;
using ClusterGate.Hostile.Net;
using ClusterGate.Hostile.Resp;

namespace ClusterGate.Hostile.Probes;

/// <summary>
/// 50 clients block in BLPOP and leave. If the target keeps their server-side sessions blocked, the next LPUSHed jobs
/// go to nobody: LLEN after pushing 3 shows it (and --node's connected_clients stays up).
/// </summary>
internal sealed class BlpopDisconnectProbe : IProbe
{
    private const int Count = 50;
    private const int Jobs = 3;
    private static readonly TimeSpan BlockWait = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan LeaveWait = TimeSpan.FromSeconds(1);

    public string Name => "blpop-disconnect";

    public string Summary => "50 connections send BLPOP {tag}:jobs 0 and disconnect; then LPUSH 3 jobs and check LLEN is 3";

    public async Task<ProbeOutcome> RunAsync(ProbeContext context, CancellationToken ct)
    {
        var options = context.Options;
        var key = context.Key("jobs");
        var cleared = Control(context, c => c.Execute("DEL", key).ToString());

        var blpop = Encoding.UTF8.GetBytes($"*3\r\n$5\r\nBLPOP\r\n${Encoding.UTF8.GetByteCount(key)}\r\n{key}\r\n$1\r\n0\r\n");
        var failures = new ReplyTally();
        var clients = await Crowd.OpenAsync(context.Target, Count, Count, options.ReplyTimeout, async client =>
        {
            client.StartReading();
            if (await client.SendAsync(blpop, options.ReplyTimeout, ct) is { } error)
            {
                failures.Add(error, error);
            }
        }, failures, () => context.ProcessGone, ct);

        var blocked = new ReplyTally();
        try
        {
            await Task.Delay(BlockWait, ct);
            foreach (var client in clients)
            {
                var capture = client.Snapshot();
                blocked.Add(ReplyText.Class(capture, BlockWait), ReplyText.Describe(capture, BlockWait, ReplyText.SampleBytes));
            }
        }
        finally
        {
            Crowd.DisposeAll(clients);
        }

        await Task.Delay(LeaveWait, ct);
        var check = Control(context, control =>
        {
            var pushed = control.Execute("LPUSH", key, "job-1", "job-2", "job-3");
            Thread.Sleep(200);
            var length = control.Execute("LLEN", key);
            control.Execute("DEL", key);
            return pushed.Kind != RespKind.Integer ? $"LPUSH answered {pushed}"
                : length.Kind != RespKind.Integer ? $"LLEN answered {length}"
                : length.Integer == Jobs ? $"LLEN {Jobs}/{Jobs}: jobs kept"
                : $"LLEN {length.Integer}/{Jobs}: {Jobs - length.Integer} jobs taken by dead sessions";
        });

        var outcome = new ProbeOutcome { Reply = $"BLPOP: {blocked.Summary()}\n{check}" };
        outcome.Details.Add($"{clients.Count} of {Count} BLPOP connections opened{(failures.Entries().Count > 0 ? "; " + failures.Summary() : string.Empty)}; closed after {Durations.Format(BlockWait)}, LPUSH {Durations.Format(LeaveWait)} later");
        outcome.Details.Add($"DEL {key} before: {cleared}");
        outcome.Details.AddRange(blocked.Samples());
        return outcome;
    }

    /// <summary>Runs <paramref name="use"/> on a new well-behaved connection; a connection that fails says so instead.</summary>
    private static string Control(ProbeContext context, Func<RespConnection, string> use)
    {
        try
        {
            using var control = context.Control();
            return use(control);
        }
        catch (RespConnectionException e)
        {
            return $"the check's own connection failed: {e.Message}";
        }
    }
}
