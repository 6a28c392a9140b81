using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using static ClusterGate.Core.Transport.Uring.UringNative;

namespace ClusterGate.Core.Transport.Uring;

/// <summary>An outgoing connection: the socket, the <c>CONNECT</c> on the ring, its cancellation and its outcome.</summary>
internal sealed partial class UringConnection
{
    /// <summary>Connects to <paramref name="endpoint"/> on <paramref name="ring"/>; the task completes on the ring's thread.</summary>
    internal static Task<UringConnection> ConnectAsync(UringRing ring, MemoryPool<byte> pool, ushort generation, IPEndPoint endpoint, CancellationToken cancellationToken)
    {
        var family = endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? AfInet6 : AfInet;
        var fd = socket(family, SockStream | SockNonBlock | SockCloexec, 0);
        if (fd < 0)
        {
            return Task.FromException<UringConnection>(SocketError(Errno));
        }

        var pending = new TaskCompletionSource<UringConnection>();
        ring.Run(
            state =>
            {
                if (ring.IsStopping)
                {
                    close(fd);
                    pending.TrySetException(new ConnectionAbortedException("the transport is stopping"));
                    return;
                }

                var connection = new UringConnection(ring, fd, pool, generation) { _connecting = pending };
                connection.SubmitConnect(endpoint);
                if (cancellationToken.CanBeCanceled)
                {
                    connection._connectCancel = cancellationToken.UnsafeRegister(static s => ((UringConnection)s!).CancelConnect(), connection);
                }
            },
            null);
        return pending.Task;
    }

    private unsafe void SubmitConnect(IPEndPoint endpoint)
    {
        _connectAddress = (byte*)NativeMemory.AllocZeroed(28);
        var length = SockAddr.Write(endpoint, new Span<byte>(_connectAddress, 28));
        var sqe = _ring.NextSqe();
        sqe->Opcode = OpConnect;
        sqe->Fd = _fd;
        sqe->Addr = (ulong)_connectAddress;
        sqe->Off = (ulong)length;
        sqe->UserData = Token(ForConnect);
        _outstanding++;
    }

    private void CancelConnect() => _ring.Run(
        static s =>
        {
            var c = (UringConnection)s!;
            if (c._connecting is not null && !c._done)
            {
                c._ring.Cancel(c.Token(ForConnect));
            }
        },
        this);

    private unsafe void OnConnected(int result)
    {
        var pending = _connecting!;
        _connecting = null;
        _connectCancel.Dispose();
        NativeMemory.Free(_connectAddress);
        _connectAddress = null;
        if (result == 0 && _abortedWhileConnecting)
        {
            result = -ECanceled;
        }

        if (result == 0)
        {
            SetNoDelay(_fd);
            ReadEndpoints();
            Start();
            pending.SetResult(this);
            return;
        }

        // Never started: both sides end here and the descriptor is closed by TryFinish.
        _receiveEnded = _sendEnded = true;
        _input.Writer.Complete();
        _output.Reader.Complete();
        if (result == -ECanceled)
        {
            pending.SetCanceled();
        }
        else
        {
            pending.SetException(SocketError(-result));
        }
    }
}
