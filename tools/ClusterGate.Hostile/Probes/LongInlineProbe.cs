using System.Globalization;
using System.Net.Sockets;
using ClusterGate.Hostile.Net;

namespace ClusterGate.Hostile.Probes;

/// <summary>A 10 MB inline command with no newline, then the newline: an inline parser must cap the line it buffers.</summary>
internal sealed class LongInlineProbe : IProbe
{
    private const int Length = 10 * 1024 * 1024;

    public string Name => "long-inline";

    public string Summary => "a 10 MB inline line without a newline, then the newline, on one connection";

    public async Task<ProbeOutcome> RunAsync(ProbeContext context, CancellationToken ct)
    {
        var wait = context.Options.ReplyTimeout;
        RawClient client;
        try
        {
            client = await RawClient.ConnectAsync(context.Target, wait, ct);
        }
        catch (SocketException e)
        {
            return new ProbeOutcome { Reply = "connect " + RawClient.Describe(e) };
        }

        using (client)
        {
            client.StartReading();
            var line = new byte[Length];
            line.AsSpan().Fill((byte)'a');

            // The send may block while a gateway buffers the line; give it more than the reply timeout.
            var sendError = await client.SendAsync(line, wait * 5, ct);
            var beforeNewline = await client.WaitReplyAsync(wait, ct);
            var newlineError = sendError is null ? await client.SendAsync("\n"u8.ToArray(), wait, ct) : null;
            var afterNewline = await client.WaitReplyAsync(wait, ct);

            // A reply that came before the newline is the interesting one: the gateway gave up on the line by itself.
            var reply = beforeNewline.FirstBytes.Length > 0 || beforeNewline.Ended is not null
                ? "before the newline: " + ReplyText.Describe(beforeNewline, wait)
                : "after the newline: " + ReplyText.Describe(afterNewline, wait);
            var outcome = new ProbeOutcome { Reply = reply };
            outcome.Details.Add($"{Length.ToString("N0", CultureInfo.InvariantCulture)} bytes of 'a': {sendError ?? "sent"}; newline: {newlineError ?? (sendError is null ? "sent" : "not sent")}");
            outcome.Details.Add($"{afterNewline.Total.ToString("N0", CultureInfo.InvariantCulture)} reply bytes in all");
            return outcome;
        }
    }
}
