using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using ClusterGate.Hostile.Net;

namespace ClusterGate.Hostile.Probes;

/// <summary>A million pipelined PINGs on one connection, replies read as they come: throughput and completeness.</summary>
internal sealed class PingsProbe : IProbe
{
    private const int CommandsPerSend = 10_000;
    private static readonly byte[] Ping = "*1\r\n$4\r\nPING\r\n"u8.ToArray();

    public string Name => "pings";

    public string Summary => "--ping-count pipelined PINGs on one connection, replies read concurrently";

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
            var counter = new ReplyCounter();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var started = Stopwatch.GetTimestamp();
            var reader = Task.Run(() => ReadAsync(client.Socket, counter, options.PingCount, stop.Token), CancellationToken.None);
            var writer = Task.Run(() => WriteAsync(client.Socket, options.PingCount, stop.Token), CancellationToken.None);

            // Done when every reply is in or the connection ended; stalled when nothing came for a while.
            var stall = options.ReplyTimeout * 5;
            var lastCount = 0L;
            var lastProgress = Stopwatch.GetTimestamp();
            string? stalled = null;
            while (!reader.IsCompleted)
            {
                await Task.WhenAny(reader, Task.Delay(200, ct));
                if (counter.Lines != lastCount)
                {
                    lastCount = counter.Lines;
                    lastProgress = Stopwatch.GetTimestamp();
                }
                else if (!reader.IsCompleted && Stopwatch.GetElapsedTime(lastProgress) > stall)
                {
                    stalled = $"stalled: no reply for {Durations.Format(stall)}";
                    break;
                }
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            await stop.CancelAsync();
            client.Socket.Dispose();
            var ended = await reader.WaitAsync(options.ReplyTimeout, CancellationToken.None).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default);
            var writerEnd = await writer.WaitAsync(options.ReplyTimeout, CancellationToken.None).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default);

            var rate = counter.Pongs / Math.Max(elapsed.TotalSeconds, 0.001);
            var reply = new StringBuilder();
            reply.Append(CultureInfo.InvariantCulture, $"{counter.Pongs:N0} of {options.PingCount:N0} PONG in {elapsed.TotalSeconds:0.0} s ({rate:N0}/s)");
            if (counter.Others > 0)
            {
                reply.Append(CultureInfo.InvariantCulture, $"; {counter.Others:N0} other replies, first: {counter.FirstOther}");
            }

            if ((stalled ?? (counter.Lines < options.PingCount ? ended : null)) is { } why)
            {
                reply.Append("; ").Append(why);
            }

            var outcome = new ProbeOutcome { Reply = reply.ToString() };
            if (writerEnd is not null)
            {
                outcome.Details.Add("sending ended: " + writerEnd);
            }

            return outcome;
        }
    }

    /// <summary>Sends the PINGs; returns null, or why sending ended early.</summary>
    private static async Task<string?> WriteAsync(Socket socket, int count, CancellationToken ct)
    {
        var buffer = new byte[Ping.Length * CommandsPerSend];
        for (var i = 0; i < CommandsPerSend; i++)
        {
            Ping.CopyTo(buffer, i * Ping.Length);
        }

        try
        {
            for (var sent = 0; sent < count; sent += CommandsPerSend)
            {
                var data = buffer.AsMemory(0, Math.Min(CommandsPerSend, count - sent) * Ping.Length);
                while (!data.IsEmpty)
                {
                    data = data[await socket.SendAsync(data, SocketFlags.None, ct)..];
                }
            }

            return null;
        }
        catch (OperationCanceledException)
        {
            return "cancelled";
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return RawClient.Describe(e);
        }
    }

    /// <summary>Counts reply lines until <paramref name="expected"/> came; returns how the connection ended, or null.</summary>
    private static async Task<string?> ReadAsync(Socket socket, ReplyCounter counter, int expected, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (counter.Lines < expected)
            {
                var n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct);
                if (n == 0)
                {
                    return "closed by the target";
                }

                counter.Feed(buffer.AsSpan(0, n));
            }

            return null;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return RawClient.Describe(e) + " by the target";
        }
    }

    /// <summary>Splits the reply stream into lines: "+PONG" lines and the rest (keeping the first of those).</summary>
    private sealed class ReplyCounter
    {
        private readonly List<byte> _other = [];
        private bool _lineStart = true;
        private bool _lineIsPong;
        private long _lines;

        public long Lines => Volatile.Read(ref _lines);
        public long Pongs { get; private set; }
        public long Others { get; private set; }
        public string? FirstOther { get; private set; }

        public void Feed(ReadOnlySpan<byte> data)
        {
            foreach (var b in data)
            {
                if (_lineStart)
                {
                    _lineStart = false;
                    _lineIsPong = b == (byte)'+';
                }

                if (!_lineIsPong && FirstOther is null)
                {
                    _other.Add(b);
                }

                if (b != (byte)'\n')
                {
                    continue;
                }

                if (_lineIsPong)
                {
                    Pongs++;
                }
                else
                {
                    Others++;
                    FirstOther ??= ReplyText.Escape(_other.ToArray());
                }

                _lineStart = true;
                Volatile.Write(ref _lines, _lines + 1);
            }
        }
    }
}
