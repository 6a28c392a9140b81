using System.Globalization;
using System.Net.Sockets;
using ClusterGate.Hostile.Net;

namespace ClusterGate.Hostile.Probes;

/// <summary>Many short connections of noise: each sends 1-4 KB of random bytes, waits briefly for a reply, closes.</summary>
internal sealed class RandomBytesProbe : IProbe
{
    private static readonly TimeSpan ReplyWait = TimeSpan.FromMilliseconds(500);

    public string Name => "random-bytes";

    public string Summary => "--connections connections (batches of --batch), each sends 1-4 KB of random bytes and closes";

    public async Task<ProbeOutcome> RunAsync(ProbeContext context, CancellationToken ct)
    {
        var options = context.Options;
        var tally = new ReplyTally();
        var batches = 0;
        var done = await Crowd.RunAsync(options.Connections, options.Batch, i => OneAsync(context, i, tally, ct), () =>
        {
            if (++batches % 20 == 0)
            {
                context.Log($"random-bytes: {((batches - 1) * options.Batch).ToString("N0", CultureInfo.InvariantCulture)} connections");
            }

            return context.ProcessGone;
        }, ct);

        var outcome = new ProbeOutcome { Reply = tally.Summary() };
        outcome.Details.Add($"{done.ToString("N0", CultureInfo.InvariantCulture)} connections of 1-4 KB random bytes (seed {options.RandomSeed}), reply awaited {Durations.Format(ReplyWait)} each");
        if (done < options.Connections)
        {
            outcome.Details.Add($"stopped after {done.ToString("N0", CultureInfo.InvariantCulture)}: the process is gone");
        }

        outcome.Details.AddRange(tally.Samples());
        return outcome;
    }

    private static async Task OneAsync(ProbeContext context, int index, ReplyTally tally, CancellationToken ct)
    {
        // One seed per connection: a run is reproducible, and connection N's bytes do not depend on scheduling.
        var random = new Random(context.Options.RandomSeed + index);
        var bytes = new byte[random.Next(1024, 4097)];
        random.NextBytes(bytes);

        RawClient client;
        try
        {
            client = await RawClient.ConnectAsync(context.Target, context.Options.ReplyTimeout, ct);
        }
        catch (SocketException e)
        {
            tally.Add("connect " + RawClient.Describe(e), "connect " + RawClient.Describe(e));
            return;
        }

        using (client)
        {
            client.StartReading();
            var sendError = await client.SendAsync(bytes, context.Options.ReplyTimeout, ct);
            var capture = await client.WaitReplyAsync(ReplyWait, ct);
            var kind = capture.FirstBytes.Length == 0 && sendError is not null ? sendError : ReplyText.Class(capture, ReplyWait);
            tally.Add(kind, ReplyText.Describe(capture, ReplyWait, ReplyText.SampleBytes));
        }
    }
}
