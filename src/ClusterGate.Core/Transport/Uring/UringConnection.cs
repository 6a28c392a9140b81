using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using static ClusterGate.Core.Transport.Uring.UringNative;

namespace ClusterGate.Core.Transport.Uring;

/// <summary>
/// A TCP connection on a ring, seen by the frontends as Kestrel's <see cref="ConnectionContext"/>: bytes the
/// kernel receives (multishot receive into the ring's provided buffers) are copied into <see cref="Input"/>; what
/// the frontend writes to <see cref="Output"/> is sent from the pipe's own memory, one send in flight. Everything
/// here runs on the ring's thread; other threads come in through <see cref="UringRing.Run"/>.
/// </summary>
/// <remarks>
/// Backpressure both ways: while <see cref="Input"/> is above its pause threshold the receive is cancelled and
/// armed again only when the reader has caught up; a frontend's flush to <see cref="Output"/> waits while the
/// peer does not read. The descriptor is closed, and the ring slot given back, only once the receive and send
/// sides have both ended and no operation of the connection is left in the kernel, whatever order their
/// completions come in.
/// </remarks>
internal sealed partial class UringConnection : ConnectionContext, IDuplexPipe, IUringOwner, IValueTaskSource<int>
{
    // What a completion is for (the low byte of its user data); not the io_uring opcodes.
    private const byte ForRecv = 1, ForSend = 2, ForConnect = 3;
    private const int MaxIov = 32;

    private readonly UringRing _ring;
    private readonly Pipe _input;
    private readonly Pipe _output;
    private readonly int _slot;
    private readonly ushort _generation;
    private readonly CancellationTokenSource _closed = new();
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action _onFlushed;
    private ManualResetValueTaskSourceCore<int> _sendDone;
    private IDuplexPipe? _transport;
    private IDictionary<object, object?>? _items;
    private IFeatureCollection? _features;
    private int _fd;
    private int _outstanding;
    private bool _recvArmed;
    private bool _recvCancelRequested;
    private bool _starved;
    private bool _flushPending;
    private bool _unflushed;
    private bool _inputDone;
    private bool _receiveEnded;
    private bool _sendEnded;
    private bool _shutDown;
    private bool _done;
    private bool _abortedWhileConnecting;
    private Exception? _abortReason;
    private ValueTask<FlushResult> _pendingFlush;
    private MemoryHandle _pin;
    private MemoryHandle[]? _pins;
    private int _pinCount;
    private unsafe IoVec* _iov;
    private unsafe MsgHdr* _msg;
    private unsafe byte* _connectAddress;
    private TaskCompletionSource<UringConnection>? _connecting;
    private CancellationTokenRegistration _connectCancel;

    private UringConnection(UringRing ring, int fd, MemoryPool<byte> pool, ushort generation)
    {
        _ring = ring;
        _fd = fd;
        _generation = generation;
        _slot = ring.AddOwner(this, isConnection: true);
        _onFlushed = OnFlushed;
        _input = new Pipe(new PipeOptions(pool, ring, ring, pauseWriterThreshold: 1024 * 1024, resumeWriterThreshold: 512 * 1024, useSynchronizationContext: false));
        _output = new Pipe(new PipeOptions(pool, ring, ring, pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, useSynchronizationContext: false));
        ConnectionId = $"uring-{ring.Index}-{_slot}-{generation}";
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features => _features ??= new FeatureCollection();

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public override IDuplexPipe Transport
    {
        get => _transport ?? this;
        set => _transport = value;
    }

    public PipeReader Input => _input.Reader;

    public PipeWriter Output => _output.Writer;

    public override CancellationToken ConnectionClosed { get => _closed.Token; set => throw new NotSupportedException(); }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    /// <summary>A connection the ring accepted: receives and sends start at once. On the ring's thread.</summary>
    internal static UringConnection Accepted(UringRing ring, int fd, MemoryPool<byte> pool, ushort generation)
    {
        SetNoDelay(fd);
        var connection = new UringConnection(ring, fd, pool, generation);
        connection.ReadEndpoints();
        connection.Start();
        return connection;
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        Interlocked.CompareExchange(ref _abortReason, abortReason, null);
        _ring.Run(static s => ((UringConnection)s!).AbortOnRing(), this);
    }

    public override void Abort() => Abort(new ConnectionAbortedException("The connection was aborted by the application."));

    public override async ValueTask DisposeAsync()
    {
        _input.Reader.Complete();
        _output.Writer.Complete();
        await _finished.Task.ConfigureAwait(false);
        _closed.Dispose();
        await base.DisposeAsync();
    }

    public void OnCompletion(byte op, ushort generation, int result, uint flags)
    {
        if (generation != _generation)
        {
            return;
        }

        switch (op)
        {
            case ForRecv:
                OnReceive(result, flags);
                break;
            case ForSend:
                _outstanding--;
                _sendDone.SetResult(result);
                break;
            case ForConnect:
                _outstanding--;
                OnConnected(result);
                break;
        }

        TryFinish();
    }

    /// <summary>The ring has buffers again after this connection's receive ended with <c>ENOBUFS</c>.</summary>
    internal void OnBuffersAvailable()
    {
        _starved = false;
        ArmIfWanted();
    }

    private ulong Token(byte op) => UringRing.Token(_slot, _generation, op);

    private void Start()
    {
        ArmIfWanted();
        _ = SendLoopAsync();
    }

    private void AbortOnRing()
    {
        if (_done)
        {
            return;
        }

        if (_connecting is not null)
        {
            _abortedWhileConnecting = true;
            CancelConnect();
            return;
        }

        Shutdown();
        if (!_sendEnded)
        {
            _output.Reader.CancelPendingRead();
        }

        // At once, even with a receive still armed (its data is dropped from here on): the input ends with the reason.
        EndReceive(null);
        TryFinish();
    }

    /// <summary>The ring stopped with this connection still open: closed here, without waiting for its completions.</summary>
    internal void ForceClose()
    {
        if (_done)
        {
            return;
        }

        _done = true;
        var aborted = new ConnectionAbortedException("the transport stopped");
        _connecting?.TrySetException(aborted);
        _connecting = null;
        if (!_receiveEnded)
        {
            _receiveEnded = true;
            _input.Writer.Complete(aborted);
        }

        if (!_sendEnded)
        {
            _sendEnded = true;
            _output.Reader.Complete(aborted);
        }

        close(_fd);
        _fd = -1;
        _ring.RemoveOwner(_slot, isConnection: true);
        _finished.TrySetResult();
    }

    private void Shutdown()
    {
        if (!_shutDown && _fd >= 0)
        {
            _shutDown = true;
            shutdown(_fd, ShutRdWr);
        }
    }

    private unsafe void TryFinish()
    {
        if (_done || !_sendEnded || !_receiveEnded || _outstanding > 0)
        {
            return;
        }

        _done = true;
        close(_fd);
        _fd = -1;
        _ring.RemoveOwner(_slot, isConnection: true);
        if (_iov is not null)
        {
            NativeMemory.Free(_iov);
            NativeMemory.Free(_msg);
            _iov = null;
            _msg = null;
        }

        _finished.TrySetResult();
    }

    private unsafe void ReadEndpoints()
    {
        var address = stackalloc byte[128];
        uint length = 128;
        if (getsockname(_fd, address, &length) == 0)
        {
            LocalEndPoint = SockAddr.Read(new ReadOnlySpan<byte>(address, (int)length));
        }

        length = 128;
        if (getpeername(_fd, address, &length) == 0)
        {
            RemoteEndPoint = SockAddr.Read(new ReadOnlySpan<byte>(address, (int)length));
        }
    }

    private static IOException ReceiveError(int errno) => errno switch
    {
        104 or 32 => new ConnectionResetException(errno == 104 ? "Connection reset by peer" : "Broken pipe", SocketError(errno)),
        _ => new IOException($"socket error (errno {errno})", SocketError(errno)),
    };

    internal static SocketException SocketError(int errno) => new((int)(errno switch
    {
        111 => System.Net.Sockets.SocketError.ConnectionRefused,
        110 => System.Net.Sockets.SocketError.TimedOut,
        113 => System.Net.Sockets.SocketError.HostUnreachable,
        101 => System.Net.Sockets.SocketError.NetworkUnreachable,
        99 => System.Net.Sockets.SocketError.AddressNotAvailable,
        104 => System.Net.Sockets.SocketError.ConnectionReset,
        32 => System.Net.Sockets.SocketError.Shutdown,
        23 or 24 => System.Net.Sockets.SocketError.TooManyOpenSockets,
        105 or 12 => System.Net.Sockets.SocketError.NoBufferSpaceAvailable,
        125 => System.Net.Sockets.SocketError.OperationAborted,
        _ => System.Net.Sockets.SocketError.SocketError,
    }));

    private sealed class ConnectionItems : Dictionary<object, object?>;
}
