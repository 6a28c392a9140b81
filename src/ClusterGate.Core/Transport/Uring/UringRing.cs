using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using static ClusterGate.Core.Transport.Uring.UringNative;

namespace ClusterGate.Core.Transport.Uring;

/// <summary>What owns submissions on a ring: a connection or a listener; told of each of its completions.</summary>
internal interface IUringOwner
{
    void OnCompletion(byte op, ushort generation, int result, uint flags);
}

/// <summary>
/// One io_uring and the thread that owns it: every submission, every completion, and every continuation of the
/// connections on it run on that thread. A loop turn runs the queued work, then one <c>io_uring_enter</c> submits
/// everything the turn queued and waits for the next completion (<c>SINGLE_ISSUER</c> + <c>DEFER_TASKRUN</c>, so
/// the kernel runs completion work only inside that call, never by interrupting the thread). Receives go into
/// one provided-buffer ring per ring: a buffer is copied into the connection's pipe at once and given back in the
/// same turn, so no connection holds one while its pipe is full. Other threads reach the ring through
/// <see cref="Post"/> (an eventfd wakes it only when it sleeps).
/// </summary>
internal sealed unsafe partial class UringRing : PipeScheduler, IDisposable
{
    public const int BufferCount = 512;
    public const int BufferSize = 16 * 1024;
    private const uint SqEntries = 4096;
    private const uint CqEntries = 16384;
    private const ulong IgnoredToken = ulong.MaxValue;
    private const byte OpWake = 1;
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(2);

    private readonly ILogger _logger;
    private readonly int _fd;
    private readonly uint* _sqHead;
    private readonly uint* _sqTail;
    private readonly uint* _sqArray;
    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint _sqMask;
    private readonly uint _cqMask;
    private readonly Sqe* _sqes;
    private readonly Cqe* _cqes;
    private readonly void* _ringMap;
    private readonly nuint _ringMapSize;
    private readonly IoUringBuf* _bufRing;
    private readonly byte* _bufBase;
    private readonly int _eventFd;
    private readonly ulong* _eventValue;
    private readonly List<IUringOwner?> _owners = [null];
    private readonly Stack<int> _freeOwners = new();
    private readonly Queue<(Action<object?> Action, object? State)> _local = new();
    private readonly ConcurrentQueue<(Action<object?> Action, object? State)> _posted = new();
    private readonly List<UringConnection> _starved = [];
    private readonly Thread _thread;
    private uint _sqTailLocal;
    private ushort _bufTailLocal;
    private int _parked;
    private readonly Lock _wakeGate = new();
    private volatile bool _stopping;
    private volatile bool _exited;
    private bool _eventClosed;
    private int _liveConnections;

    private UringRing(int index, ILogger logger, int fd, in IoUringParams p, void* ringMap, nuint ringMapSize, Sqe* sqes)
    {
        Index = index;
        _logger = logger;
        _fd = fd;
        _ringMap = ringMap;
        _ringMapSize = ringMapSize;
        var ring = (byte*)ringMap;
        _sqHead = (uint*)(ring + p.SqOff.Head);
        _sqTail = (uint*)(ring + p.SqOff.Tail);
        _sqMask = *(uint*)(ring + p.SqOff.RingMask);
        _sqArray = (uint*)(ring + p.SqOff.Array);
        _cqHead = (uint*)(ring + p.CqOff.Head);
        _cqTail = (uint*)(ring + p.CqOff.Tail);
        _cqMask = *(uint*)(ring + p.CqOff.RingMask);
        _cqes = (Cqe*)(ring + p.CqOff.Cqes);
        _sqes = sqes;
        _sqTailLocal = *_sqTail;

        _bufRing = (IoUringBuf*)NativeMemory.AlignedAlloc((nuint)(BufferCount * sizeof(IoUringBuf)), 4096);
        NativeMemory.Clear(_bufRing, (nuint)(BufferCount * sizeof(IoUringBuf)));
        _bufBase = (byte*)NativeMemory.AlignedAlloc((nuint)BufferCount * BufferSize, 4096);
        var registration = new BufReg { RingAddr = (ulong)_bufRing, RingEntries = BufferCount, Bgid = 0 };
        if (Register(_fd, RegisterPbufRing, &registration, 1) < 0)
        {
            throw new UringUnavailableException($"provided buffer rings are not supported (errno {Errno})");
        }

        for (var i = 0; i < BufferCount; i++)
        {
            ReturnBuffer((ushort)i);
        }

        PublishBuffers();
        _eventFd = eventfd(0, SockCloexec);
        if (_eventFd < 0)
        {
            throw new UringUnavailableException($"eventfd failed (errno {Errno})");
        }

        _eventValue = (ulong*)NativeMemory.Alloc(sizeof(ulong));
        ArmWake();
        _thread = new Thread(Run) { IsBackground = true, Name = $"clustergate-uring-{index}" };
        _thread.Start();
    }

    public int Index { get; }

    /// <summary>The managed id of the ring's thread: continuations scheduled from it run in the same turn, without a wake-up.</summary>
    public int ThreadId { get; private set; }

    public bool IsRingThread => Environment.CurrentManagedThreadId == ThreadId;

    /// <summary>Connections open on this ring now (accepted and outgoing).</summary>
    public int LiveConnections => Volatile.Read(ref _liveConnections);

    /// <summary>Receive buffers given to the kernel and not yet handed back (all of them whenever the ring is idle).</summary>
    public int BuffersInKernel { get; private set; }

    public static UringRing Create(int index, ILogger logger)
    {
        // Created disabled: SINGLE_ISSUER makes the task that enables the ring its only submitter, and that is the ring's own thread.
        var p = new IoUringParams { Flags = SetupCqSize | SetupSubmitAll | SetupSingleIssuer | SetupDeferTaskrun | SetupRDisabled, CqEntries = CqEntries };
        var fd = Setup(SqEntries, &p);
        if (fd < 0)
        {
            throw new UringUnavailableException(UringSupport.DescribeSetupError(Errno));
        }

        if ((p.Features & FeatSingleMmap) == 0 || (p.Features & FeatNoDrop) == 0)
        {
            close(fd);
            throw new UringUnavailableException("the kernel's io_uring lacks IORING_FEAT_SINGLE_MMAP or IORING_FEAT_NODROP");
        }

        var ringSize = Math.Max(p.SqOff.Array + (p.SqEntries * 4), p.CqOff.Cqes + (p.CqEntries * (uint)sizeof(Cqe)));
        var ring = mmap(null, ringSize, 3, 0x1 | 0x8000, fd, OffSqRing);
        var sqes = (Sqe*)mmap(null, p.SqEntries * 64u, 3, 0x1 | 0x8000, fd, OffSqes);
        if ((long)ring == -1 || (long)sqes == -1)
        {
            var errno = Errno;
            close(fd);
            throw new UringUnavailableException($"mapping the ring failed (errno {errno})");
        }

        try
        {
            return new UringRing(index, logger, fd, p, ring, ringSize, sqes);
        }
        catch
        {
            close(fd);
            throw;
        }
    }

    /// <summary>Runs <paramref name="action"/> on the ring's thread: later in this turn when called from it, else after a wake-up.</summary>
    public override void Schedule(Action<object?> action, object? state)
    {
        if (IsRingThread)
        {
            _local.Enqueue((action, state));
        }
        else
        {
            Post(action, state);
        }
    }

    /// <summary>Queues work for the ring's thread from any thread.</summary>
    public void Post(Action<object?> action, object? state)
    {
        _posted.Enqueue((action, state));
        if (_exited)
        {
            // The thread is gone: what it left behind is closed, so the work (an abort, a stop) runs here.
            RunQueued();
            return;
        }

        if (Interlocked.Exchange(ref _parked, 0) == 1)
        {
            // Rare (only when the ring sleeps): under a lock, so the eventfd cannot be closed and its number reused meanwhile.
            lock (_wakeGate)
            {
                if (!_eventClosed)
                {
                    ulong one = 1;
                    write(_eventFd, &one, sizeof(ulong));
                }
            }
        }
    }

    /// <summary>True once the ring is stopping: no new connection may start on it.</summary>
    public bool IsStopping => _stopping;

    /// <summary>Runs <paramref name="action"/> now when on the ring's thread, else posts it.</summary>
    public void Run(Action<object?> action, object? state)
    {
        if (IsRingThread)
        {
            action(state);
        }
        else
        {
            Post(action, state);
        }
    }

    public int AddOwner(IUringOwner owner, bool isConnection)
    {
        if (isConnection)
        {
            Interlocked.Increment(ref _liveConnections);
        }

        if (_freeOwners.TryPop(out var slot))
        {
            _owners[slot] = owner;
            return slot;
        }

        _owners.Add(owner);
        return _owners.Count - 1;
    }

    public void RemoveOwner(int slot, bool isConnection)
    {
        _owners[slot] = null;
        _freeOwners.Push(slot);
        if (isConnection)
        {
            Interlocked.Decrement(ref _liveConnections);
        }
    }

    public static ulong Token(int slot, ushort generation, byte op) => ((ulong)(uint)slot << 24) | ((ulong)generation << 8) | op;

    /// <summary>The next submission entry, zeroed; submitted with the turn's <c>io_uring_enter</c>.</summary>
    public Sqe* NextSqe()
    {
        for (var attempt = 0; _sqTailLocal - Volatile.Read(ref *_sqHead) >= SqEntries; attempt++)
        {
            // The turn queued more than the ring holds: submit what is there (an entry is never overwritten unsubmitted).
            if (Submit(0, 0) < 0 && attempt > 100)
            {
                throw new InvalidOperationException($"io_uring submission queue full and io_uring_enter fails (errno {Errno})");
            }
        }

        var index = _sqTailLocal & _sqMask;
        _sqArray[index] = index;
        _sqTailLocal++;
        var sqe = _sqes + index;
        *sqe = default;
        return sqe;
    }

    public void Cancel(ulong token)
    {
        var sqe = NextSqe();
        sqe->Opcode = OpAsyncCancel;
        sqe->Addr = token;
        sqe->UserData = IgnoredToken;
    }

    /// <summary>The bytes of provided buffer <paramref name="bid"/>.</summary>
    public ReadOnlySpan<byte> Buffer(ushort bid, int length) => new(_bufBase + ((long)bid * BufferSize), length);

    public void ReturnBuffer(ushort bid)
    {
        var entry = _bufRing + (_bufTailLocal & (BufferCount - 1));
        entry->Addr = (ulong)(_bufBase + ((long)bid * BufferSize));
        entry->Len = BufferSize;
        entry->Bid = bid;
        _bufTailLocal++;
        BuffersInKernel++;
    }

    public void OnBufferTaken() => BuffersInKernel--;

    /// <summary>A receive ended for want of buffers: armed again once the turn has given buffers back.</summary>
    public void AddStarved(UringConnection connection) => _starved.Add(connection);

    public void Stop()
    {
        _stopping = true;
        Post(static _ => { }, null);
    }

    public void Dispose()
    {
        Stop();
        if (!_thread.Join(StopGrace + StopGrace))
        {
            LogStopTimedOut(Index, LiveConnections);
        }
    }

    private void PublishBuffers() => Volatile.Write(ref *(ushort*)((byte*)_bufRing + 14), _bufTailLocal);

    private int Submit(uint minComplete, uint flags)
    {
        Volatile.Write(ref *_sqTail, _sqTailLocal);
        var toSubmit = _sqTailLocal - Volatile.Read(ref *_sqHead);
        return Enter(_fd, toSubmit, minComplete, flags);
    }

    private void ArmWake()
    {
        var sqe = NextSqe();
        sqe->Opcode = OpRead;
        sqe->Fd = _eventFd;
        sqe->Addr = (ulong)_eventValue;
        sqe->Len = sizeof(ulong);
        sqe->UserData = Token(0, 0, OpWake);
    }

    private void Run()
    {
        ThreadId = Environment.CurrentManagedThreadId;
        if (Register(_fd, RegisterEnableRings, null, 0) < 0)
        {
            LogEnterFailed(Index, Errno);
        }

        long stopAt = 0;
        while (true)
        {
            RunQueued();
            if (_stopping)
            {
                if (stopAt == 0)
                {
                    stopAt = Environment.TickCount64 + (long)StopGrace.TotalMilliseconds;
                }

                // Every turn: a connection accepted or connected during the grace is aborted too.
                AbortAll();
                RunQueued();

                if (LiveConnections == 0 || Environment.TickCount64 > stopAt)
                {
                    break;
                }
            }

            if (_starved.Count > 0 && BuffersInKernel >= BufferCount / 4)
            {
                foreach (var connection in _starved)
                {
                    connection.OnBuffersAvailable();
                }

                _starved.Clear();
            }

            PublishBuffers();
            uint wait = 0;
            if (_local.Count == 0 && _posted.IsEmpty && !_stopping)
            {
                Interlocked.Exchange(ref _parked, 1);
                if (_posted.IsEmpty)
                {
                    wait = 1;
                }
                else
                {
                    Volatile.Write(ref _parked, 0);
                }
            }

            var result = Submit(wait, EnterGetEvents);
            Volatile.Write(ref _parked, 0);
            if (result < 0 && Errno is not (EIntr or EAgain or EBusy))
            {
                LogEnterFailed(Index, Errno);
                Thread.Sleep(10);
            }

            Reap();
        }

        var forced = ForceCloseAll();
        _exited = true;
        Interlocked.MemoryBarrier();
        RunQueued();
        lock (_wakeGate)
        {
            _eventClosed = true;
            close(_eventFd);
        }

        close(_fd);

        // Operations of force-closed connections may still reference their memory while the kernel tears the ring down.
        if (!forced)
        {
            munmap(_ringMap, _ringMapSize);
            munmap(_sqes, SqEntries * 64u);
            NativeMemory.AlignedFree(_bufRing);
            NativeMemory.AlignedFree(_bufBase);
            NativeMemory.Free(_eventValue);
        }
    }

    private void Reap()
    {
        var head = *_cqHead;
        var tail = Volatile.Read(ref *_cqTail);
        while (head != tail)
        {
            var cqe = _cqes[head & _cqMask];
            head++;
            Volatile.Write(ref *_cqHead, head);
            if (cqe.UserData == IgnoredToken)
            {
                continue;
            }

            var slot = (int)(cqe.UserData >> 24);
            var op = (byte)cqe.UserData;
            if (slot == 0)
            {
                ArmWake();
                continue;
            }

            try
            {
                _owners[slot]?.OnCompletion(op, (ushort)(cqe.UserData >> 8), cqe.Res, cqe.Flags);
            }
            catch (Exception ex)
            {
                LogCompletionFailed(ex, Index);
            }

            if (head == tail)
            {
                tail = Volatile.Read(ref *_cqTail);
            }
        }
    }

    private void RunQueued()
    {
        while (true)
        {
            (Action<object?> Action, object? State) item;
            if (_local.Count > 0)
            {
                item = _local.Dequeue();
            }
            else if (!_posted.TryDequeue(out item))
            {
                return;
            }

            try
            {
                item.Action(item.State);
            }
            catch (Exception ex)
            {
                LogWorkFailed(ex, Index);
            }
        }
    }

    /// <summary>Connections still open when the grace ran out: closed without their completions; true if there were any.</summary>
    private bool ForceCloseAll()
    {
        var any = false;
        foreach (var owner in _owners.ToList())
        {
            if (owner is UringConnection connection)
            {
                connection.ForceClose();
                any = true;
            }
        }

        return any;
    }

    private void AbortAll()
    {
        foreach (var owner in _owners)
        {
            if (owner is UringConnection connection)
            {
                connection.Abort(new Microsoft.AspNetCore.Connections.ConnectionAbortedException("the transport is stopping"));
            }
        }
    }

    [LoggerMessage(EventId = Observability.LogEvents.TransportFault, Level = LogLevel.Error, Message = "io_uring ring {Ring}: a completion handler failed")]
    private partial void LogCompletionFailed(Exception exception, int ring);

    [LoggerMessage(EventId = Observability.LogEvents.TransportFault, Level = LogLevel.Error, Message = "io_uring ring {Ring}: queued work failed")]
    private partial void LogWorkFailed(Exception exception, int ring);

    [LoggerMessage(EventId = Observability.LogEvents.TransportFault, Level = LogLevel.Error, Message = "io_uring ring {Ring}: io_uring_enter failed with errno {Errno}")]
    private partial void LogEnterFailed(int ring, int errno);

    [LoggerMessage(EventId = Observability.LogEvents.TransportFault, Level = LogLevel.Warning, Message = "io_uring ring {Ring}: {Connections} connections still open when the transport stopped")]
    private partial void LogStopTimedOut(int ring, int connections);
}

/// <summary>io_uring cannot be used here; the message says why, in an operator's words.</summary>
public sealed class UringUnavailableException(string reason) : Exception(reason);
