using System.Runtime.InteropServices;
using static ClusterGate.Core.Transport.Uring.UringNative;

namespace ClusterGate.Core.Transport.Uring;

/// <summary>
/// Whether this process may use the io_uring transport, and if not, why: the kernel switch
/// (<c>kernel.io_uring_disabled</c>), the kernel version (multishot receive needs 6.0, <c>DEFER_TASKRUN</c> 6.1), a
/// seccomp profile that refuses <c>io_uring_setup</c> (Docker's default does), and the operations the engine
/// submits. Probed with a real ring that is closed again.
/// </summary>
public static unsafe class UringSupport
{
    private static readonly Version Minimum = new(6, 1);
    private static readonly (byte Op, string Name)[] Needed =
    [
        (OpAccept, "ACCEPT"), (OpRecv, "RECV"), (OpSend, "SEND"), (OpSendMsg, "SENDMSG"), (OpConnect, "CONNECT"), (OpAsyncCancel, "ASYNC_CANCEL"), (OpRead, "READ"),
    ];

    /// <summary>Null when io_uring can be used; otherwise the reason it cannot.</summary>
    public static string? Unavailable()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "not Linux";
        }

        if (RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64))
        {
            return $"not supported on {RuntimeInformation.ProcessArchitecture}";
        }

        var kernel = Environment.OSVersion.Version;
        if (kernel < Minimum)
        {
            return $"kernel {kernel} is older than {Minimum} (multishot receive, DEFER_TASKRUN)";
        }

        try
        {
            if (File.Exists("/proc/sys/kernel/io_uring_disabled") && File.ReadAllText("/proc/sys/kernel/io_uring_disabled").Trim() == "2")
            {
                return "disabled by the kernel (kernel.io_uring_disabled = 2)";
            }
        }
        catch (IOException)
        {
        }

        var p = new IoUringParams { Flags = SetupCqSize | SetupSubmitAll | SetupSingleIssuer | SetupDeferTaskrun, CqEntries = 64 };
        var fd = Setup(8, &p);
        if (fd < 0)
        {
            return DescribeSetupError(Errno);
        }

        try
        {
            return MissingOperations(fd);
        }
        finally
        {
            close(fd);
        }
    }

    internal static string DescribeSetupError(int errno) => errno switch
    {
        EPerm => "io_uring_setup is not permitted (a seccomp profile, as container runtimes apply by default, or kernel.io_uring_disabled = 1)",
        ENoSys => "io_uring_setup is not implemented or is blocked (seccomp)",
        EInval => "the kernel refuses the ring flags SINGLE_ISSUER / DEFER_TASKRUN",
        ENoMem or ENFile or EMFile => $"io_uring_setup failed for want of memory or descriptors (errno {errno})",
        _ => $"io_uring_setup failed (errno {errno})",
    };

    private static string? MissingOperations(int fd)
    {
        const int ops = 64;
        var size = 16 + (ops * 8);
        var probe = stackalloc byte[size];
        new Span<byte>(probe, size).Clear();
        if (Register(fd, RegisterProbe, probe, ops) < 0)
        {
            return $"the kernel does not answer IORING_REGISTER_PROBE (errno {Errno})";
        }

        var lastOp = probe[0];
        var missing = Needed.Where(n => n.Op > lastOp || (probe[16 + (n.Op * 8) + 2] & 1) == 0).Select(n => n.Name).ToList();
        return missing.Count == 0 ? null : $"the kernel lacks io_uring operations {string.Join(", ", missing)}";
    }
}
