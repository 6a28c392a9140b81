using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using Microsoft.AspNetCore.Connections;
using static ClusterGate.Core.Transport.Uring.UringNative;

namespace ClusterGate.Core.Transport.Uring;

/// <summary>Sending: one send in flight, straight from the output pipe's pinned memory; the send loop awaits this connection as its own value-task source.</summary>
internal sealed partial class UringConnection
{
    int IValueTaskSource<int>.GetResult(short token) => _sendDone.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _sendDone.GetStatus(token);

    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _sendDone.OnCompleted(continuation, state, token, flags);

    private async Task SendLoopAsync()
    {
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await _output.Reader.ReadAsync();
                if (result.IsCanceled)
                {
                    break;
                }

                var buffer = result.Buffer;
                while (!buffer.IsEmpty)
                {
                    SubmitSend(buffer);
                    var sent = await new ValueTask<int>(this, _sendDone.Version);
                    ReleasePins();
                    if (sent <= 0)
                    {
                        error = sent == 0 ? new ConnectionResetException("the peer stopped receiving") : ReceiveError(-sent);
                        break;
                    }

                    buffer = buffer.Slice(sent);
                }

                if (error is not null)
                {
                    break;
                }

                _output.Reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            error = ex;
        }

        _output.Reader.Complete(error);
        _sendEnded = true;
        if (error is not null)
        {
            Interlocked.CompareExchange(ref _abortReason, error, null);
        }

        // Both ways down: a receive still armed ends with 0 and completes the input.
        Shutdown();
        if (!_recvArmed)
        {
            EndReceive(null);
        }

        TryFinish();
    }

    private unsafe void SubmitSend(in ReadOnlySequence<byte> buffer)
    {
        _sendDone.Reset();
        var sqe = _ring.NextSqe();
        if (buffer.IsSingleSegment)
        {
            var memory = buffer.First;
            _pin = memory.Pin();
            sqe->Opcode = OpSend;
            sqe->Addr = (ulong)_pin.Pointer;
            sqe->Len = (uint)memory.Length;
        }
        else
        {
            _pins ??= new MemoryHandle[MaxIov];
            if (_iov is null)
            {
                _iov = (IoVec*)NativeMemory.Alloc((nuint)(MaxIov * sizeof(IoVec)));
                _msg = (MsgHdr*)NativeMemory.AllocZeroed((nuint)sizeof(MsgHdr));
            }

            var count = 0;
            foreach (var segment in buffer)
            {
                if (segment.IsEmpty)
                {
                    continue;
                }

                if (count == MaxIov)
                {
                    break;
                }

                _pins[count] = segment.Pin();
                _iov[count] = new IoVec { Base = (nint)_pins[count].Pointer, Length = (nuint)segment.Length };
                count++;
            }

            _pinCount = count;
            _msg->Iov = (nint)_iov;
            _msg->IovLength = (nuint)count;
            sqe->Opcode = OpSendMsg;
            sqe->Addr = (ulong)_msg;
            sqe->Len = 1;
        }

        sqe->Fd = _fd;
        sqe->OpFlags = MsgNoSignal | MsgWaitAll;
        sqe->UserData = Token(ForSend);
        _outstanding++;
    }

    private void ReleasePins()
    {
        _pin.Dispose();
        _pin = default;
        for (var i = 0; i < _pinCount; i++)
        {
            _pins![i].Dispose();
            _pins[i] = default;
        }

        _pinCount = 0;
    }
}
