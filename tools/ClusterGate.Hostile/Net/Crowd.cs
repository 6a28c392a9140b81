using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace ClusterGate.Hostile.Net;

/// <summary>Many connections at once: sequential batches of concurrent work, so the tool never floods the backlog.</summary>
internal static class Crowd
{
    /// <summary>
    /// Runs <paramref name="work"/> for 0..count-1, <paramref name="batch"/> at a time, batch after batch, until done or
    /// <paramref name="stop"/> says so (checked between batches). Returns how many ran.
    /// </summary>
    public static async Task<int> RunAsync(int count, int batch, Func<int, Task> work, Func<bool> stop, CancellationToken ct)
    {
        var done = 0;
        while (done < count && !stop())
        {
            ct.ThrowIfCancellationRequested();
            var n = Math.Min(batch, count - done);
            await Task.WhenAll(Enumerable.Range(done, n).Select(work));
            done += n;
        }

        return done;
    }

    /// <summary>
    /// Opens <paramref name="count"/> connections and keeps them; <paramref name="afterOpen"/> runs on each one (start
    /// reading, send a half frame...). Connections that fail to open are counted in <paramref name="failures"/>.
    /// </summary>
    public static async Task<List<RawClient>> OpenAsync(
        IPEndPoint target, int count, int batch, TimeSpan timeout, Func<RawClient, Task>? afterOpen, ReplyTally failures, Func<bool> stop, CancellationToken ct)
    {
        var open = new ConcurrentBag<RawClient>();
        try
        {
            await RunAsync(count, batch, async _ =>
            {
                RawClient client;
                try
                {
                    client = await RawClient.ConnectAsync(target, timeout, ct);
                }
                catch (SocketException e)
                {
                    failures.Add("connect " + RawClient.Describe(e), "connect " + RawClient.Describe(e));
                    return;
                }

                open.Add(client);
                if (afterOpen is not null)
                {
                    await afterOpen(client);
                }
            }, stop, ct);
        }
        catch (OperationCanceledException)
        {
            DisposeAll(open);
            throw;
        }

        return [.. open];
    }

    public static void DisposeAll(IEnumerable<RawClient> clients)
    {
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }
}
