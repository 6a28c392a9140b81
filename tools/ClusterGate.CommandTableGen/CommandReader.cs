using System.Buffers;
using System.Net.Sockets;
using ClusterGate.Core.Resp;

namespace ClusterGate.CommandTableGen;

/// <summary>Sends one command to a Redis node and reads its whole reply; one short-lived connection per call.</summary>
internal static class CommandReader
{
    public static async Task<RespValue> SendAsync(string host, int port, CancellationToken ct, params string[] args)
    {
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(host, port, ct);
        var stream = client.GetStream();
        var request = new ArrayBufferWriter<byte>();
        RespWriter.WriteCommand(request, args);
        await stream.WriteAsync(request.WrittenMemory, ct);

        var buffer = new byte[64 * 1024];
        var filled = 0;
        while (true)
        {
            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, buffer.Length * 2);
            }

            var read = await stream.ReadAsync(buffer.AsMemory(filled), ct);
            if (read == 0)
            {
                throw new IOException($"{host}:{port} closed the connection before the reply to {args[0]} was complete.");
            }

            filled += read;
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(buffer, 0, filled));
            switch (RespValue.TryRead(ref reader, RespLimits.Default, out var value, out var error))
            {
                case RespScanStatus.Complete when value!.Type is RespType.Error or RespType.BulkError:
                    throw new IOException($"{host}:{port} answered {args[0]} with an error: {value.AsString()}");
                case RespScanStatus.Complete:
                    return value!;
                case RespScanStatus.Incomplete:
                    continue;
                default:
                    throw new IOException($"{host}:{port} sent an invalid reply to {args[0]}: {error}");
            }
        }
    }

    /// <summary>The <c>redis_version</c> line of <c>INFO server</c>.</summary>
    public static async Task<string> VersionAsync(string host, int port, CancellationToken ct)
    {
        var info = (await SendAsync(host, port, ct, "INFO", "server")).AsString();
        foreach (var line in info.Split('\n'))
        {
            var trimmed = line.TrimEnd('\r');
            if (trimmed.StartsWith("redis_version:", StringComparison.Ordinal))
            {
                return trimmed["redis_version:".Length..];
            }
        }

        throw new IOException($"{host}:{port}: INFO server has no redis_version.");
    }
}
