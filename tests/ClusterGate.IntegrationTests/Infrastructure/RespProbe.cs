using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ClusterGate.IntegrationTests.Infrastructure;

/// <summary>
/// A deliberately tiny RESP2 client the fixture uses to poll nodes (PING, CLUSTER INFO/NODES,
/// INFO replication) without starting a redis-cli process per poll. One connection per call:
/// loopback connects are cheap and a dead node can never leave a half-read reply behind.
/// Independent of ClusterGate's own RESP code, which is what the tests exercise.
/// </summary>
internal static class RespProbe
{
    /// <summary>Ports of nodes that require a password (<see cref="RedisClusterOptions.Password"/>): AUTH goes first.</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, string> Passwords = new();

    /// <summary>Every later probe of <paramref name="port"/> authenticates with <paramref name="password"/> first.</summary>
    public static void Authenticate(int port, string password) => Passwords[port] = password;

    public static void Forget(int port) => Passwords.TryRemove(port, out _);

    /// <summary>Sends one command; returns a string (simple/bulk), long (integer), null (nil) or object?[] (array).</summary>
    /// <exception cref="RespErrorException">The node replied with an error.</exception>
    public static async Task<object?> SendAsync(int port, TimeSpan timeout, CancellationToken ct, params string[] args)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            var reader = new Reader(stream);
            if (Passwords.TryGetValue(port, out var password))
            {
                await stream.WriteAsync(Encode(["AUTH", password]), cts.Token);
                await reader.ReadAsync(cts.Token);
            }

            await stream.WriteAsync(Encode(args), cts.Token);
            return await reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException(
                string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port} did not answer '{string.Join(' ', args)}' within {timeout.TotalMilliseconds:0} ms."));
        }
    }

    /// <summary>Like <see cref="SendAsync"/> but expects a string reply.</summary>
    public static async Task<string> SendForStringAsync(int port, TimeSpan timeout, CancellationToken ct, params string[] args) =>
        await SendAsync(port, timeout, ct, args) as string
        ?? throw new InvalidOperationException($"127.0.0.1:{port} gave a non-string reply to '{string.Join(' ', args)}'.");

    private static byte[] Encode(string[] args)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"*{args.Length}\r\n");
        foreach (var arg in args)
        {
            text.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(arg)}\r\n{arg}\r\n");
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private sealed class Reader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[16 * 1024];
        private int _start;
        private int _end;

        public async Task<object?> ReadAsync(CancellationToken ct)
        {
            var line = await ReadLineAsync(ct);
            if (line.Length == 0)
            {
                throw new InvalidDataException("Empty RESP line.");
            }

            var payload = line[1..];
            switch (line[0])
            {
                case '+':
                    return payload;
                case '-':
                    throw new RespErrorException(payload);
                case ':':
                    return long.Parse(payload, CultureInfo.InvariantCulture);
                case '$':
                    var length = int.Parse(payload, CultureInfo.InvariantCulture);
                    if (length < 0)
                    {
                        return null;
                    }

                    var bytes = await ReadExactAsync(length + 2, ct);
                    return Encoding.UTF8.GetString(bytes, 0, length);
                case '*':
                    var count = int.Parse(payload, CultureInfo.InvariantCulture);
                    if (count < 0)
                    {
                        return null;
                    }

                    var items = new object?[count];
                    for (var i = 0; i < count; i++)
                    {
                        try
                        {
                            items[i] = await ReadAsync(ct);
                        }
                        catch (RespErrorException e)
                        {
                            items[i] = e;
                        }
                    }

                    return items;
                default:
                    throw new InvalidDataException($"Unexpected RESP type '{line[0]}'.");
            }
        }

        private async Task<string> ReadLineAsync(CancellationToken ct)
        {
            while (true)
            {
                var span = _buffer.AsSpan(_start, _end - _start);
                var index = span.IndexOf("\r\n"u8);
                if (index >= 0)
                {
                    var line = Encoding.UTF8.GetString(span[..index]);
                    _start += index + 2;
                    return line;
                }

                await FillAsync(ct);
            }
        }

        private async Task<byte[]> ReadExactAsync(int count, CancellationToken ct)
        {
            var result = new byte[count];
            var copied = 0;
            while (copied < count)
            {
                if (_start == _end)
                {
                    await FillAsync(ct);
                }

                var n = Math.Min(count - copied, _end - _start);
                _buffer.AsSpan(_start, n).CopyTo(result.AsSpan(copied));
                _start += n;
                copied += n;
            }

            return result;
        }

        private async Task FillAsync(CancellationToken ct)
        {
            if (_start > 0)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }

            if (_end == _buffer.Length)
            {
                throw new InvalidDataException("RESP line longer than the probe buffer.");
            }

            var read = await stream.ReadAsync(_buffer.AsMemory(_end), ct);
            if (read == 0)
            {
                throw new EndOfStreamException("The node closed the connection.");
            }

            _end += read;
        }
    }
}

/// <summary>An error reply (<c>-ERR ...</c>) from a node.</summary>
public sealed class RespErrorException : Exception
{
    public RespErrorException()
    {
    }

    public RespErrorException(string message)
        : base(message)
    {
    }

    public RespErrorException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
