using System.Net.Sockets;
using System.Text;

namespace ClusterGate.Hostile.Net;

/// <summary>
/// One whole reply off a raw connection: its first line (escaped) and, for a bulk string, its length; or how the
/// connection failed before the reply was whole (<see cref="Ended"/>: "closed after 1,000 of 1,048,576 bytes", ...).
/// </summary>
internal readonly record struct WholeReply(string Line, long BulkLength, string? Ended);

/// <summary>
/// Reads whole RESP replies off a raw socket, one at a time. A bulk payload is counted and dropped as it arrives, so a
/// 1 MB GET costs the tool one buffer, not a megabyte. An array reply is reported by its header line only (the
/// probes that use this send commands whose replies are never arrays).
/// </summary>
internal sealed class ReplyReader(Socket socket, int bufferSize)
{
    private readonly byte[] _buffer = new byte[bufferSize];
    private int _start;
    private int _end;

    /// <summary>The next reply, waiting at most <paramref name="timeout"/> for all of it.</summary>
    public async Task<WholeReply> ReadAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        string? line = null;
        long payload = -1;
        long skipped = 0;
        try
        {
            line = await ReadLineAsync(cts.Token);
            if (line is null)
            {
                return new WholeReply("", -1, $"first line longer than {_buffer.Length} bytes");
            }

            if (line.Length > 1 && line[0] == '$' && long.TryParse(line.AsSpan(1), out payload) && payload >= 0)
            {
                // The payload and its CRLF.
                var left = payload + 2;
                while (left > 0)
                {
                    var n = (int)Math.Min(left, _end - _start);
                    _start += n;
                    left -= n;
                    skipped += n;
                    if (left > 0)
                    {
                        await FillAsync(cts.Token);
                    }
                }
            }

            return new WholeReply(ReplyText.Escape(Encoding.ASCII.GetBytes(line)), payload, null);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return Failed(line, payload, skipped, ReplyText.NoReply(timeout));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or EndOfStreamException)
        {
            return Failed(line, payload, skipped, e is EndOfStreamException ? "closed" : RawClient.Describe(e));
        }
    }

    private static WholeReply Failed(string? line, long payload, long skipped, string how) => line is null
        ? new WholeReply("", -1, how)
        : new WholeReply(ReplyText.Escape(Encoding.ASCII.GetBytes(line)), payload, payload < 0
            ? how
            : $"{how} after {Math.Min(skipped, payload):N0} of {payload:N0} bytes");

    /// <summary>The next line without its CR/LF; null when it does not fit the buffer.</summary>
    private async Task<string?> ReadLineAsync(CancellationToken ct)
    {
        while (true)
        {
            var lf = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (lf >= 0)
            {
                var line = _buffer.AsSpan(_start, lf);
                _start += lf + 1;
                return Encoding.ASCII.GetString(line.EndsWith("\r"u8) ? line[..^1] : line);
            }

            if (_start == 0 && _end == _buffer.Length)
            {
                return null;
            }

            await FillAsync(ct);
        }
    }

    private async Task FillAsync(CancellationToken ct)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }

        var n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, ct);
        if (n == 0)
        {
            throw new EndOfStreamException();
        }

        _end += n;
    }
}
