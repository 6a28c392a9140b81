using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using static ClusterGate.Core.Transport.Uring.UringNative;

namespace ClusterGate.Core.Transport.Uring;

/// <summary>Receiving: the multishot receive, the copy into the input pipe, and backpressure (the receive is cancelled while the pipe is full).</summary>
internal sealed partial class UringConnection
{
    private unsafe void ArmIfWanted()
    {
        if (_recvArmed || _receiveEnded || _inputDone || _flushPending || _starved || _done)
        {
            return;
        }

        var sqe = _ring.NextSqe();
        sqe->Opcode = OpRecv;
        sqe->Fd = _fd;
        sqe->IoPrio = RecvMultishot;
        sqe->Flags = SqeBufferSelect;
        sqe->BufGroup = 0;
        sqe->UserData = Token(ForRecv);
        _recvArmed = true;
        _recvCancelRequested = false;
        _outstanding++;
    }

    private void CancelReceive()
    {
        if (_recvArmed && !_recvCancelRequested)
        {
            _recvCancelRequested = true;
            _ring.Cancel(Token(ForRecv));
        }
    }

    private void OnReceive(int result, uint flags)
    {
        if ((flags & CqeFMore) == 0)
        {
            _recvArmed = false;
            _outstanding--;
        }

        if ((flags & CqeFBuffer) != 0)
        {
            var bid = (ushort)(flags >> 16);
            _ring.OnBufferTaken();
            try
            {
                if (result > 0 && !_inputDone && !_receiveEnded)
                {
                    Copy(_ring.Buffer(bid, result));
                }
            }
            finally
            {
                _ring.ReturnBuffer(bid);
            }
        }

        if (result > 0)
        {
            if (!_inputDone && !_receiveEnded && !_flushPending)
            {
                Flush();
            }

            ArmIfWanted();
        }
        else if (result == -ENoBufs)
        {
            if (!_receiveEnded && !_starved)
            {
                _starved = true;
                _ring.AddStarved(this);
            }
        }
        else if (result == -ECanceled)
        {
            ArmIfWanted();
        }
        else
        {
            // 0: the peer closed (or our own shutdown woke the receive); below 0: the connection failed.
            EndReceive(result == 0 ? null : ReceiveError(-result));
        }
    }

    private void Copy(ReadOnlySpan<byte> received)
    {
        var writer = _input.Writer;
        while (received.Length > 0)
        {
            var destination = writer.GetSpan();
            var count = Math.Min(destination.Length, received.Length);
            received[..count].CopyTo(destination);
            writer.Advance(count);
            received = received[count..];
        }

        _unflushed = true;
    }

    private void Flush()
    {
        _unflushed = false;
#pragma warning disable CA2012 // consumed below: at once when completed, else by the continuation it registers
        var flush = _input.Writer.FlushAsync();
#pragma warning restore CA2012
        if (flush.IsCompleted)
        {
            OnFlushResult(flush.GetAwaiter().GetResult());
            return;
        }

        // The reader is behind: stop receiving until it catches up (bytes already on their way are kept unflushed).
        _flushPending = true;
        _pendingFlush = flush;
        CancelReceive();
        flush.GetAwaiter().UnsafeOnCompleted(_onFlushed);
    }

    private void OnFlushed()
    {
        _flushPending = false;
        var flush = _pendingFlush;
        _pendingFlush = default;
        FlushResult result;
        try
        {
            result = flush.GetAwaiter().GetResult();
        }
        catch (Exception)
        {
            result = new FlushResult(isCanceled: false, isCompleted: true);
        }

        OnFlushResult(result);
        if (_unflushed && !_inputDone && !_receiveEnded)
        {
            Flush();
        }

        ArmIfWanted();
        TryFinish();
    }

    private void OnFlushResult(FlushResult result)
    {
        if (result.IsCompleted && !_inputDone)
        {
            // The frontend completed its reader: nothing more is received.
            _inputDone = true;
            EndReceive(null);
        }
    }

    private void EndReceive(Exception? error)
    {
        if (_receiveEnded)
        {
            return;
        }

        _receiveEnded = true;
        CancelReceive();
        _input.Writer.Complete(error ?? _abortReason);
        ThreadPool.UnsafeQueueUserWorkItem(static c => c.FireClosed(), this, preferLocal: false);
    }

    private void FireClosed()
    {
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }
}
