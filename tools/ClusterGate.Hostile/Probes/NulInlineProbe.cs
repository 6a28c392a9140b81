using System.Net.Sockets;
using System.Text;
using ClusterGate.Hostile.Net;

namespace ClusterGate.Hostile.Probes;

/// <summary>
/// An inline command with a NUL byte inside its key, left open for --hold. Redis answers it like any GET; a gateway
/// that cuts the line at the NUL, or forwards it badly on a shared connection, stalls other clients of that master:
/// the good client's latency during the hold is the measurement.
/// </summary>
internal sealed class NulInlineProbe : IProbe
{
    public string Name => "nul-inline";

    public string Summary => "inline \"GET {tag}:a\\0b\\n\" on one connection, left open for --hold while the good client works";

    public async Task<ProbeOutcome> RunAsync(ProbeContext context, CancellationToken ct)
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
            client.StartReading();
            var input = Encoding.UTF8.GetBytes($"GET {context.Key("a")}\0b\n");
            var sendError = await client.SendAsync(input, options.ReplyTimeout, ct);
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var capture = await client.WaitReplyAsync(options.Hold, ct);
            var replyAfter = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            var rest = options.Hold - replyAfter;
            if (rest > TimeSpan.Zero)
            {
                await Task.Delay(rest, ct);
            }

            var reply = ReplyText.Describe(capture, options.Hold);
            var outcome = new ProbeOutcome { Reply = sendError is null ? reply : $"{reply}; {sendError}" };
            outcome.Details.Add($"sent {ReplyText.Escape(input)}; {(capture.FirstBytes.Length > 0 ? $"reply after {Durations.Format(replyAfter)}" : "no reply")}; connection held {Durations.Format(options.Hold)}");
            return outcome;
        }
    }
}
