using System.Net;
using System.Net.Sockets;

namespace ClusterGate.Hostile.Net;

/// <summary>One hostile input on a fresh connection: connect, start reading, send, wait for the reply, close.</summary>
internal static class Shot
{
    /// <summary>The reply as the table shows it, with a failed send noted ("…; send failed: reset").</summary>
    public static async Task<string> FireAsync(IPEndPoint target, ReadOnlyMemory<byte> input, TimeSpan sendTimeout, TimeSpan wait, CancellationToken ct)
    {
        RawClient client;
        try
        {
            client = await RawClient.ConnectAsync(target, sendTimeout, ct);
        }
        catch (SocketException e)
        {
            return "connect " + RawClient.Describe(e);
        }

        using (client)
        {
            client.StartReading();
            var sendError = await client.SendAsync(input, sendTimeout, ct);
            var reply = ReplyText.Describe(await client.WaitReplyAsync(wait, ct), wait);
            return sendError is null ? reply : $"{reply}; {sendError}";
        }
    }
}
