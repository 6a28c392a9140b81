using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ClusterGate.Hostile.Resp;

internal enum RespKind
{
    Simple,
    Error,
    Integer,
    Bulk,
    Array,
    Null,
}

/// <summary>One RESP2 reply. Bulk payloads are kept as bytes; <see cref="Text"/> decodes them as UTF-8.</summary>
internal sealed class RespValue
{
    public RespKind Kind { get; init; }
    public string? Line { get; init; }
    public long Integer { get; init; }
    public byte[]? Bulk { get; init; }
    public IReadOnlyList<RespValue>? Items { get; init; }

    public bool IsError => Kind == RespKind.Error;

    public string? Text => Kind switch
    {
        RespKind.Simple or RespKind.Error => Line,
        RespKind.Integer => Integer.ToString(CultureInfo.InvariantCulture),
        RespKind.Bulk => Encoding.UTF8.GetString(Bulk!),
        _ => null,
    };

    /// <summary>First word of an error reply (MOVED, CLUSTERDOWN, ERR, ...).</summary>
    public string ErrorKind
    {
        get
        {
            var text = Line ?? string.Empty;
            var space = text.IndexOf(' ', StringComparison.Ordinal);
            return space < 0 ? text : text[..space];
        }
    }

    public override string ToString() => Kind switch
    {
        RespKind.Array => $"[{string.Join(", ", Items!)}]",
        RespKind.Null => "(nil)",
        RespKind.Error => "-" + Line,
        _ => Text ?? string.Empty,
    };
}

/// <summary>The peer closed the connection, reset it, or did not answer in time.</summary>
internal sealed class RespConnectionException : Exception
{
    public RespConnectionException(string message, bool timedOut = false, Exception? inner = null)
        : base(message, inner) => TimedOut = timedOut;

    public RespConnectionException()
    {
    }

    public RespConnectionException(string message)
        : base(message)
    {
    }

    public RespConnectionException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public bool TimedOut { get; }
}

/// <summary>
/// Minimal blocking RESP2 client: binary-safe request writer and reply reader. Every socket operation
/// has a timeout (connect, send, receive); any I/O failure surfaces as <see cref="RespConnectionException"/>
/// and leaves the connection unusable.
/// </summary>
internal sealed class RespConnection : IDisposable
{
    private const int MaxBulk = 512 * 1024 * 1024;
    private readonly Socket _socket;
    private readonly byte[] _in = new byte[64 * 1024];
    private byte[] _out = new byte[4 * 1024];
    private int _outLength;
    private int _inStart;
    private int _inEnd;

    private RespConnection(Socket socket, string endpoint)
    {
        _socket = socket;
        Endpoint = endpoint;
    }

    public string Endpoint { get; }

    public static RespConnection Connect(string hostPort, TimeSpan timeout)
    {
        var (host, port) = Endpoints.Split(hostPort);
        var address = IPAddress.TryParse(host, out var ip) ? ip : Dns.GetHostAddresses(host)[0];
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var cts = new CancellationTokenSource(timeout);
            socket.ConnectAsync(new IPEndPoint(address, port), cts.Token).AsTask().GetAwaiter().GetResult();
            socket.SendTimeout = (int)timeout.TotalMilliseconds;
            socket.ReceiveTimeout = (int)timeout.TotalMilliseconds;
            return new RespConnection(socket, hostPort);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            throw new RespConnectionException($"connect {hostPort}: {e.Message}", e is OperationCanceledException, e);
        }
    }

    /// <summary>Receive/send timeout for the following operations.</summary>
    public TimeSpan Timeout
    {
        set
        {
            _socket.SendTimeout = (int)value.TotalMilliseconds;
            _socket.ReceiveTimeout = (int)value.TotalMilliseconds;
        }
    }

    public RespValue Execute(params string[] args)
    {
        Append(args);
        Flush();
        return Read();
    }

    /// <summary>Appends one command (array of bulk strings) to the send buffer.</summary>
    public void Append(params string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        WriteHeader('*', args.Length);
        foreach (var arg in args)
        {
            var byteCount = Encoding.UTF8.GetByteCount(arg);
            WriteHeader('$', byteCount);
            Ensure(byteCount + 2);
            _outLength += Encoding.UTF8.GetBytes(arg, 0, arg.Length, _out, _outLength);
            _out[_outLength++] = (byte)'\r';
            _out[_outLength++] = (byte)'\n';
        }
    }

    public void Flush()
    {
        try
        {
            var sent = 0;
            while (sent < _outLength)
            {
                sent += _socket.Send(_out, sent, _outLength - sent, SocketFlags.None);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            throw Wrap("send", e);
        }
        finally
        {
            _outLength = 0;
        }
    }

    public RespValue Read()
    {
        var line = ReadLine();
        if (line.Length == 0)
        {
            throw new RespConnectionException($"{Endpoint}: protocol error: empty line");
        }

        var body = line[1..];
        switch (line[0])
        {
            case '+':
                return new RespValue { Kind = RespKind.Simple, Line = body };
            case '-':
                return new RespValue { Kind = RespKind.Error, Line = body };
            case ':':
                return new RespValue { Kind = RespKind.Integer, Integer = ParseInt(body) };
            case '$':
            {
                var length = ParseInt(body);
                if (length < 0)
                {
                    return new RespValue { Kind = RespKind.Null };
                }

                if (length > MaxBulk)
                {
                    throw new RespConnectionException($"{Endpoint}: protocol error: bulk length {length}");
                }

                var data = new byte[length];
                ReadExact(data);
                var crlf = new byte[2];
                ReadExact(crlf);
                return new RespValue { Kind = RespKind.Bulk, Bulk = data };
            }

            case '*':
            {
                var count = ParseInt(body);
                if (count < 0)
                {
                    return new RespValue { Kind = RespKind.Null };
                }

                var items = new RespValue[count];
                for (var i = 0; i < count; i++)
                {
                    items[i] = Read();
                }

                return new RespValue { Kind = RespKind.Array, Items = items };
            }

            default:
                throw new RespConnectionException($"{Endpoint}: protocol error: unexpected '{line[0]}'");
        }
    }

    public void Dispose() => _socket.Dispose();

    private long ParseInt(string text) =>
        long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new RespConnectionException($"{Endpoint}: protocol error: bad number '{text}'");

    private void WriteHeader(char prefix, long value)
    {
        Ensure(24);
        _out[_outLength++] = (byte)prefix;
        value.TryFormat(_out.AsSpan(_outLength), out var written, default, CultureInfo.InvariantCulture);
        _outLength += written;
        _out[_outLength++] = (byte)'\r';
        _out[_outLength++] = (byte)'\n';
    }

    private void Ensure(int more)
    {
        if (_outLength + more > _out.Length)
        {
            Array.Resize(ref _out, Math.Max(_out.Length * 2, _outLength + more));
        }
    }

    private string ReadLine()
    {
        while (true)
        {
            var span = _in.AsSpan(_inStart, _inEnd - _inStart);
            var lf = span.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                var end = lf > 0 && span[lf - 1] == (byte)'\r' ? lf - 1 : lf;
                var line = Encoding.UTF8.GetString(span[..end]);
                _inStart += lf + 1;
                return line;
            }

            if (_inStart == 0 && _inEnd == _in.Length)
            {
                throw new RespConnectionException($"{Endpoint}: protocol error: line longer than {_in.Length} bytes");
            }

            Fill();
        }
    }

    private void ReadExact(byte[] target)
    {
        var copied = 0;
        while (copied < target.Length)
        {
            if (_inStart == _inEnd)
            {
                Fill();
            }

            var n = Math.Min(target.Length - copied, _inEnd - _inStart);
            Buffer.BlockCopy(_in, _inStart, target, copied, n);
            _inStart += n;
            copied += n;
        }
    }

    private void Fill()
    {
        if (_inStart > 0)
        {
            Buffer.BlockCopy(_in, _inStart, _in, 0, _inEnd - _inStart);
            _inEnd -= _inStart;
            _inStart = 0;
        }

        int n;
        try
        {
            n = _socket.Receive(_in, _inEnd, _in.Length - _inEnd, SocketFlags.None);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            throw Wrap("receive", e);
        }

        if (n == 0)
        {
            throw new RespConnectionException($"{Endpoint}: connection closed by peer");
        }

        _inEnd += n;
    }

    private RespConnectionException Wrap(string operation, Exception e) =>
        e is SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.WouldBlock }
            ? new RespConnectionException($"{Endpoint}: {operation} timed out", true, e)
            : new RespConnectionException($"{Endpoint}: {operation}: {e.Message}", false, e);
}

internal static class Endpoints
{
    public static (string Host, int Port) Split(string hostPort)
    {
        ArgumentNullException.ThrowIfNull(hostPort);
        var colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostPort.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
        {
            throw new FormatException($"'{hostPort}': expected HOST:PORT");
        }

        return (hostPort[..colon].Trim('[', ']'), port);
    }
}
