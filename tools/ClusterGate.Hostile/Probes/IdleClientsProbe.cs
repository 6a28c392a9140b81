using System.Globalization;
using ClusterGate.Hostile.Net;

namespace ClusterGate.Hostile.Probes;

/// <summary>Ten thousand connections that say nothing: what each idle client costs the target, and whether it frees it.</summary>
internal sealed class IdleClientsProbe : IProbe
{
    public string Name => "idle-clients";

    public string Summary => "--idle-count idle connections opened, held for --hold, then closed";

    public async Task<ProbeOutcome> RunAsync(ProbeContext context, CancellationToken ct)
    {
        var options = context.Options;
        var failures = new ReplyTally();
        var clients = await Crowd.OpenAsync(context.Target, options.IdleCount, options.Batch, options.ReplyTimeout, client =>
        {
            // Reading costs the target nothing, and shows the refusal text of a target with a client limit.
            client.StartReading();
            return Task.CompletedTask;
        }, failures, () => context.ProcessGone, ct);
        try
        {
            context.Log($"idle-clients: {clients.Count:N0} open, holding {Durations.Format(options.Hold)}");
            await Task.Delay(options.Hold, ct);
            var held = context.Sampler.SampleNow();
            var closed = new ReplyTally();
            foreach (var client in clients)
            {
                var capture = client.Snapshot();
                if (capture.Ended is not null)
                {
                    closed.Add(ReplyText.Class(capture, options.Hold), ReplyText.Describe(capture, options.Hold, ReplyText.SampleBytes));
                }
            }

            var n = (int value) => value.ToString("N0", CultureInfo.InvariantCulture);
            var reply = $"{n(clients.Count)} of {n(options.IdleCount)} opened";
            if (failures.Entries().Count > 0)
            {
                reply += $" ({failures.Summary()})";
            }

            reply += closed.Entries().Count > 0 ? $"; ended by the target while idle: {closed.Summary()}" : "; none ended by the target";
            var outcome = new ProbeOutcome { Reply = reply };
            outcome.Details.Add(held is { } h
                ? $"while held: RSS {h.RssMb.ToString("0.0", CultureInfo.InvariantCulture)} MB, {n(h.Fds)} fds"
                : $"while held: not measured ({(context.Process.Pid is null ? "no --pid" : "the process is gone")})");
            outcome.Details.AddRange(closed.Samples());
            return outcome;
        }
        finally
        {
            Crowd.DisposeAll(clients);
        }
    }
}
