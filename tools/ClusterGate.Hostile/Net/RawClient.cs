using System.Net;
using System.Net.Sockets;

namespace ClusterGate.Hostile.Net;

/// <summary>What came back on a raw connection: the first bytes, how many in all, and how it ended (null: still open).</summary>
internal readonly record struct Capture(byte[] FirstBytes, long Total, string? Ended);

/// <summary>
/// A raw TCP connection to the target that sends whatever it is given (no RESP framing) and, once
/// <see cref="StartReading"/> is called, captures the first bytes that come back and how the connection ended.
/// A connection that never reads (the never-reads probe) simply never calls it. Every wait is bounded.
/// </summary>
internal sealed class RawClient : IDisposable
{
    private const int CaptureLimit = 256;
    private const int SolTcp = 6;
    private const int TcpInfo = 11;
    private const byte TcpClose = 7;
    private const byte TcpCloseWait = 8;

    private readonly Lock _gate = new();
    private readonly byte[] _captured = new byte[CaptureLimit];
    private readonly TaskCompletionSource _lineOrEnd = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _capturedLength;
    private long _total;
    private string? _ended;
    private bool _disposed;

    private RawClient(Socket socket) => Socket = socket;

    /// <summary>The socket, for probes that drive it themselves (pipelines, never-reads).</summary>
    public Socket Socket { get; }

    public static async Task<RawClient> ConnectAsync(IPEndPoint endpoint, TimeSpan timeout, CancellationToken ct)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(timeout);
            await socket.ConnectAsync(endpoint, cts.Token);
            return new RawClient(socket);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            socket.Dispose();
            throw new SocketException((int)SocketError.TimedOut);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Sends all of <paramref name="data"/>; returns null, or why it could not (reset, timeout...).</summary>
    public async Task<string?> SendAsync(ReadOnlyMemory<byte> data, TimeSpan timeout, CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(timeout);
        try
        {
            while (!data.IsEmpty)
            {
                var sent = await Socket.SendAsync(data, SocketFlags.None, cts.Token);
                data = data[sent..];
            }

            return null;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return $"send blocked for {timeout.TotalSeconds:0.#} s";
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return "send failed: " + Describe(e);
        }
    }

    /// <summary>Starts the background reader that fills <see cref="Snapshot"/>.</summary>
    public void StartReading() => _ = ReadLoopAsync();

    /// <summary>Waits until a whole first line came back, the connection ended, or <paramref name="timeout"/> passed.</summary>
    public async Task<Capture> WaitReplyAsync(TimeSpan timeout, CancellationToken ct)
    {
        try
        {
            await _lineOrEnd.Task.WaitAsync(timeout, ct);
        }
        catch (TimeoutException)
        {
        }

        return Snapshot();
    }

    public Capture Snapshot()
    {
        lock (_gate)
        {
            return new Capture(_captured.AsSpan(0, _capturedLength).ToArray(), _total, _ended ?? (_disposed ? null : PeerState()));
        }
    }

    /// <summary>"closed"/"reset" when the peer ended the connection (from the kernel's TCP state), else null. Works without a reader.</summary>
    public string? PeerState()
    {
        Span<byte> info = stackalloc byte[8];
        try
        {
            // tcpi_state is the first byte of struct tcp_info. We never close first, so only these two mean the peer did.
            return Socket.GetRawSocketOption(SolTcp, TcpInfo, info) < 1 ? null : info[0] switch
            {
                TcpCloseWait => "closed",
                TcpClose => "reset",
                _ => null,
            };
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return "reset";
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        Socket.Dispose();
    }

    public static string Describe(Exception e) => e switch
    {
        SocketException { SocketErrorCode: SocketError.ConnectionReset } => "reset",
        SocketException { SocketErrorCode: SocketError.Shutdown or SocketError.ConnectionAborted } => "closed",
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "refused",
        SocketException { SocketErrorCode: SocketError.TimedOut } => "timed out",
        SocketException s => s.SocketErrorCode.ToString(),
        ObjectDisposedException => "closed",
        _ => e.Message,
    };

    private async Task ReadLoopAsync()
    {
        // Small: ten thousand idle clients each keep one reader, and only the first bytes are kept anyway.
        var buffer = new byte[2 * 1024];
        string ended;
        try
        {
            while (true)
            {
                var n = await Socket.ReceiveAsync(buffer, SocketFlags.None);
                if (n == 0)
                {
                    ended = "closed";
                    break;
                }

                lock (_gate)
                {
                    var copy = Math.Min(n, CaptureLimit - _capturedLength);
                    buffer.AsSpan(0, copy).CopyTo(_captured.AsSpan(_capturedLength));
                    _capturedLength += copy;
                    _total += n;
                    if (_captured.AsSpan(0, _capturedLength).Contains((byte)'\n') || _capturedLength == CaptureLimit)
                    {
                        _lineOrEnd.TrySetResult();
                    }
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            ended = Describe(e);
        }

        lock (_gate)
        {
            // Our own Dispose ends the loop too: that is not the peer's doing.
            _ended ??= _disposed ? null : ended;
        }

        _lineOrEnd.TrySetResult();
    }
}
