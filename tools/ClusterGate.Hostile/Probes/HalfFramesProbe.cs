using System.Globalization;
using ClusterGate.Hostile.Net;

namespace ClusterGate.Hostile.Probes;

/// <summary>Many connections that stop in the middle of a frame and go silent (slowloris): each holds a session open.</summary>
internal sealed class HalfFramesProbe : IProbe
{
    private const int Count = 500;
    private static readonly byte[] HalfFrame = "*3\r\n$3\r\nSET\r\n$1"u8.ToArray();

    public string Name => "half-frames";

    public string Summary => "500 connections each send \"*3\\r\\n$3\\r\\nSET\\r\\n$1\" then silence for --hold, then close";

    public async Task<ProbeOutcome> RunAsync(ProbeContext context, CancellationToken ct)
    {
        var options = context.Options;
        var failures = new ReplyTally();
        var clients = await Crowd.OpenAsync(context.Target, Count, Math.Min(options.Batch, 100), options.ReplyTimeout, async client =>
        {
            client.StartReading();
            var error = await client.SendAsync(HalfFrame, options.ReplyTimeout, ct);
            if (error is not null)
            {
                failures.Add(error, error);
            }
        }, failures, () => context.ProcessGone, ct);

        try
        {
            context.Log($"half-frames: {clients.Count} connections hold a half frame for {Durations.Format(options.Hold)}");
            await Task.Delay(options.Hold, ct);
            var held = context.Sampler.SampleNow();
            var tally = new ReplyTally();
            foreach (var client in clients)
            {
                var capture = client.Snapshot();
                tally.Add(ReplyText.Class(capture, options.Hold), ReplyText.Describe(capture, options.Hold, ReplyText.SampleBytes));
            }

            var outcome = new ProbeOutcome { Reply = tally.Summary() };
            outcome.Details.Add($"{clients.Count} of {Count} opened{(failures.Entries().Count > 0 ? "; " + failures.Summary() : string.Empty)}");
            if (held is { } h)
            {
                outcome.Details.Add($"while held: RSS {h.RssMb.ToString("0.0", CultureInfo.InvariantCulture)} MB, {h.Fds.ToString("N0", CultureInfo.InvariantCulture)} fds");
            }

            outcome.Details.AddRange(tally.Samples());
            return outcome;
        }
        finally
        {
            Crowd.DisposeAll(clients);
        }
    }
}
