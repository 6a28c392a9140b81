using ClusterGate.IntegrationTests.ShardPorts;

namespace ClusterGate.IntegrationTests.Router;

internal static class RouterPipeline
{
    /// <summary>
    /// Sends <paramref name="commands"/> pipelined in chunks and returns the replies in order. Chunks keep
    /// the client reading while it writes, so the router's per-client backpressure never deadlocks it.
    /// </summary>
    public static async Task<List<RespReply>> RunAsync(RespClient client, IReadOnlyList<string[]> commands, TimeSpan replyBound, CancellationToken ct, int chunk = 1000)
    {
        var replies = new List<RespReply>(commands.Count);
        for (var start = 0; start < commands.Count; start += chunk)
        {
            var count = Math.Min(chunk, commands.Count - start);
            using var buffer = new MemoryStream();
            for (var i = start; i < start + count; i++)
            {
                buffer.Write(RespClient.Encode(commands[i]));
            }

            await client.SendRawAsync(buffer.ToArray(), ct);
            for (var i = 0; i < count; i++)
            {
                replies.Add(await client.ReadAsync(replyBound, ct));
            }
        }

        return replies;
    }
}
