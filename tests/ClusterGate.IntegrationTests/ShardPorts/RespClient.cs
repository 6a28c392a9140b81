using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ClusterGate.IntegrationTests.ShardPorts;

/// <summary>
/// One RESP2/RESP3 reply. <see cref="Type"/> is the RESP type byte; maps are flattened into
/// key, value, key, value... in <see cref="Items"/>.
/// </summary>
internal sealed record RespReply(char Type, string? Text, long Integer, IReadOnlyList<RespReply>? Items)
{
    public bool IsError => Type is '-' or '!';

    public bool IsNull => Type == '_' || (Type is '$' or '*' && Text is null && Items is null);

    public bool IsOk => Type == '+' && Text == "OK";

    /// <summary>Every scalar of this reply and its children, depth first.</summary>
    public IEnumerable<RespReply> Scalars()
    {
        if (Items is null)
        {
            yield return this;
            yield break;
        }

        foreach (var item in Items)
        {
            foreach (var scalar in item.Scalars())
            {
                yield return scalar;
            }
        }
    }

    public override string ToString() => Type switch
    {
        ':' => Integer.ToString(CultureInfo.InvariantCulture),
        '_' => "(null)",
        _ when Items is not null => $"{Type}[{string.Join(", ", Items)}]",
        _ when Text is null => "(nil)",
        _ => $"{Type}{Text}",
    };
}

/// <summary>
/// A deliberately small RESP client on a raw socket, independent of the gateway's RESP code. It can
/// write anything (pipelines, inline commands, malformed frames) and reads replies with a bound;
/// a reply that has not fully arrived is never half-consumed, so a timed-out read loses nothing.
/// </summary>
internal sealed class RespClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RespClient(Socket socket, int port)
    {
        _socket = socket;
        Port = port;
    }

    public int Port { get; }

    public Socket Socket => _socket;

    public static async Task<RespClient> ConnectAsync(int port, CancellationToken ct)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(TimeSpan.FromSeconds(5));
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cts.Token);
            return new RespClient(socket, port);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public static byte[] Encode(params string[] args)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"*{args.Length}\r\n");
        foreach (var arg in args)
        {
            text.Append(CultureInfo.InvariantCulture, $"${Encoding.UTF8.GetByteCount(arg)}\r\n{arg}\r\n");
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    public async Task SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await _socket.SendAsync(bytes, SocketFlags.None, ct);
            bytes = bytes[sent..];
        }
    }

    public Task SendAsync(CancellationToken ct, params string[] args) => SendRawAsync(Encode(args), ct);

    public async Task<RespReply> CallAsync(TimeSpan timeout, CancellationToken ct, params string[] args)
    {
        await SendAsync(ct, args);
        return await ReadAsync(timeout, ct);
    }

    /// <summary>The next reply. <see cref="TimeoutException"/> after <paramref name="timeout"/>; <see cref="EndOfStreamException"/> when the peer closed.</summary>
    public async Task<RespReply> ReadAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        while (true)
        {
            var position = _start;
            if (TryParse(_buffer.AsSpan(0, _end), ref position, out var reply))
            {
                _start = position;
                return reply;
            }

            try
            {
                if (await FillAsync(cts.Token) == 0)
                {
                    throw new EndOfStreamException($"Port {Port} closed the connection ({_end - _start} unparsed bytes left).");
                }
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"No complete reply from port {Port} within {timeout.TotalMilliseconds:0} ms."));
            }
        }
    }

    /// <summary>
    /// True when the peer closes (or resets) the connection within <paramref name="timeout"/> without
    /// sending anything more; false when it stays open. Bytes that arrive instead are an error.
    /// </summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan timeout, CancellationToken ct)
    {
        if (_end > _start)
        {
            throw new InvalidOperationException($"Unread bytes before close: {Encoding.UTF8.GetString(_buffer, _start, _end - _start)}");
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            var read = await FillAsync(cts.Token);
            if (read == 0)
            {
                return true;
            }

            throw new InvalidOperationException($"Expected the connection to close, got bytes: {Encoding.UTF8.GetString(_buffer, _start, _end - _start)}");
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task<int> FillAsync(CancellationToken ct)
    {
        if (_start > 0 && _start == _end)
        {
            _start = _end = 0;
        }

        if (_end == _buffer.Length)
        {
            if (_start > _buffer.Length / 2)
            {
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                _end -= _start;
                _start = 0;
            }
            else
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }
        }

        var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct);
        _end += read;
        return read;
    }

    private static bool TryParse(ReadOnlySpan<byte> data, ref int position, out RespReply reply)
    {
        reply = null!;
        if (!TryLine(data, ref position, out var type, out var line))
        {
            return false;
        }

        switch (type)
        {
            case '+':
            case '-':
            case '(':
                reply = new RespReply(type, line, 0, null);
                return true;
            case ',':
                reply = new RespReply(type, line, 0, null);
                return true;
            case ':':
                reply = new RespReply(type, line, long.Parse(line, CultureInfo.InvariantCulture), null);
                return true;
            case '#':
                reply = new RespReply(type, line, line == "t" ? 1 : 0, null);
                return true;
            case '_':
                reply = new RespReply(type, null, 0, null);
                return true;
            case '$':
            case '=':
            case '!':
            {
                var length = int.Parse(line, CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    reply = new RespReply(type, null, 0, null);
                    return true;
                }

                if (data.Length - position < length + 2)
                {
                    return false;
                }

                var text = Encoding.UTF8.GetString(data.Slice(position, length));
                position += length + 2;
                reply = new RespReply(type, text, 0, null);
                return true;
            }

            case '*':
            case '~':
            case '>':
            case '%':
            case '|':
            {
                var count = int.Parse(line, CultureInfo.InvariantCulture);
                if (count < 0)
                {
                    reply = new RespReply(type, null, 0, null);
                    return true;
                }

                if (type is '%' or '|')
                {
                    count *= 2;
                }

                var items = new RespReply[count];
                for (var i = 0; i < count; i++)
                {
                    if (!TryParse(data, ref position, out items[i]))
                    {
                        return false;
                    }
                }

                if (type == '|')
                {
                    // An attribute precedes the reply it describes: return that reply.
                    return TryParse(data, ref position, out reply);
                }

                reply = new RespReply(type, null, 0, items);
                return true;
            }

            default:
                throw new InvalidDataException($"Unexpected RESP type byte '{type}' (line '{line}').");
        }
    }

    private static bool TryLine(ReadOnlySpan<byte> data, ref int position, out char type, out string line)
    {
        type = '\0';
        line = "";
        var rest = data[position..];
        var end = rest.IndexOf("\r\n"u8);
        if (end < 0)
        {
            return false;
        }

        if (end == 0)
        {
            throw new InvalidDataException("Empty RESP line.");
        }

        type = (char)rest[0];
        line = Encoding.UTF8.GetString(rest[1..end]);
        position += end + 2;
        return true;
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
