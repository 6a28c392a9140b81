using System.Runtime.InteropServices;

namespace ClusterGate.Core.Transport.Uring;

// Raw io_uring ABI (include/uapi/linux/io_uring.h) and the few socket calls the engine makes itself. No io_uring
// library is served here, and the surface the engine needs is small: setup, enter, register, and the structs below.
[StructLayout(LayoutKind.Sequential)]
internal struct SqRingOffsets
{
    public uint Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1;
    public ulong UserAddr;
}

[StructLayout(LayoutKind.Sequential)]
internal struct CqRingOffsets
{
    public uint Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1;
    public ulong UserAddr;
}

[StructLayout(LayoutKind.Sequential)]
internal struct IoUringParams
{
    public uint SqEntries, CqEntries, Flags, SqThreadCpu, SqThreadIdle, Features, WqFd, Resv0, Resv1, Resv2;
    public SqRingOffsets SqOff;
    public CqRingOffsets CqOff;
}

[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct Sqe
{
    [FieldOffset(0)] public byte Opcode;
    [FieldOffset(1)] public byte Flags;
    [FieldOffset(2)] public ushort IoPrio;
    [FieldOffset(4)] public int Fd;
    [FieldOffset(8)] public ulong Off;
    [FieldOffset(16)] public ulong Addr;
    [FieldOffset(24)] public uint Len;
    [FieldOffset(28)] public uint OpFlags;
    [FieldOffset(32)] public ulong UserData;
    [FieldOffset(40)] public ushort BufGroup;
}

[StructLayout(LayoutKind.Sequential)]
internal struct Cqe
{
    public ulong UserData;
    public int Res;
    public uint Flags;
}

[StructLayout(LayoutKind.Sequential)]
internal struct BufReg
{
    public ulong RingAddr;
    public uint RingEntries;
    public ushort Bgid;
    public ushort Flags;
    public ulong R0, R1, R2;
}

[StructLayout(LayoutKind.Sequential)]
internal struct IoUringBuf
{
    public ulong Addr;
    public uint Len;
    public ushort Bid;
    public ushort Resv;
}

[StructLayout(LayoutKind.Sequential)]
internal struct IoVec
{
    public nint Base;
    public nuint Length;
}

[StructLayout(LayoutKind.Sequential)]
internal struct MsgHdr
{
    public nint Name;
    public uint NameLength;
    public nint Iov;
    public nuint IovLength;
    public nint Control;
    public nuint ControlLength;
    public int Flags;
}

internal static unsafe partial class UringNative
{
    public const byte OpRead = 22, OpSendMsg = 9, OpAccept = 13, OpAsyncCancel = 14, OpConnect = 16, OpSend = 26, OpRecv = 27;
    public const byte SqeBufferSelect = 1 << 5;
    public const uint SetupCqSize = 1 << 3, SetupRDisabled = 1 << 6, SetupSubmitAll = 1 << 7, SetupCoopTaskrun = 1 << 8, SetupSingleIssuer = 1 << 12, SetupDeferTaskrun = 1 << 13;
    public const uint FeatSingleMmap = 1, FeatNoDrop = 1 << 1;
    public const ushort RecvMultishot = 1 << 1, AcceptMultishot = 1 << 0;
    public const uint CqeFBuffer = 1, CqeFMore = 2;
    public const uint EnterGetEvents = 1;
    public const uint CancelAll = 1, CancelFd = 2;
    public const long OffSqRing = 0, OffSqes = 0x10000000;
    public const uint RegisterProbe = 8, RegisterEnableRings = 12, RegisterPbufRing = 22;

    public const int AfInet = 2, AfInet6 = 10, SockStream = 1, SockNonBlock = 0x800, SockCloexec = 0x80000;
    public const int IpProtoTcp = 6, TcpNoDelay = 1, MsgNoSignal = 0x4000, MsgWaitAll = 0x100;
    public const int ShutRdWr = 2;
    public const int EIntr = 4, EAgain = 11, ENoMem = 12, EBusy = 16, ENFile = 23, EMFile = 24, ENoBufs = 105, EConnAborted = 103, ECanceled = 125, EPerm = 1, ENoSys = 38, EInval = 22;

    private const long SysIoUringSetup = 425, SysIoUringEnter = 426, SysIoUringRegister = 427;

    public static int Errno => Marshal.GetLastPInvokeError();

    public static int Setup(uint entries, IoUringParams* p) => (int)syscall(SysIoUringSetup, entries, (long)p, 0, 0, 0, 0);

    public static int Enter(int fd, uint toSubmit, uint minComplete, uint flags) => (int)syscall(SysIoUringEnter, fd, toSubmit, minComplete, flags, 0, 0);

    public static int Register(int fd, uint op, void* arg, uint count) => (int)syscall(SysIoUringRegister, fd, op, (long)arg, count, 0, 0);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long syscall(long number, long a1, long a2, long a3, long a4, long a5, long a6);

    [LibraryImport("libc", SetLastError = true)]
    public static partial void* mmap(void* address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(void* address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, uint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int shutdown(int fd, int how);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getpeername(int fd, byte* address, uint* length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int getsockname(int fd, byte* address, uint* length);

    public static void SetNoDelay(int fd)
    {
        var one = 1;
        setsockopt(fd, IpProtoTcp, TcpNoDelay, &one, sizeof(int));
    }
}
