using System.Runtime.InteropServices;

namespace ClusterGate.Hostile.Target;

/// <summary>A soft:hard pair of one resource limit, as getrlimit(2) gives it.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct RLimit
{
    public ulong Soft;
    public ulong Hard;

    public override readonly string ToString() => $"{Text(Soft)}:{Text(Hard)}";

    private static string Text(ulong value) => value == ulong.MaxValue ? "unlimited" : value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// RLIMIT_NOFILE of this process and of the process under test, through libc (Linux). <see cref="Set"/> on another
/// pid is the prlimit(2) call that <c>prlimit --pid PID --nofile=SOFT:HARD</c> (util-linux) makes.
/// </summary>
internal static partial class ResourceLimits
{
    private const string Libc = "libc.so.6";
    private const int RlimitNofile = 7;

    /// <summary>Raises this process's soft descriptor limit to its hard limit; returns the limit now in force.</summary>
    public static RLimit RaiseOwnDescriptorLimit()
    {
        if (GetRLimit(RlimitNofile, out var limit) != 0)
        {
            throw new InvalidOperationException($"getrlimit(RLIMIT_NOFILE) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        if (limit.Soft < limit.Hard)
        {
            var raised = new RLimit { Soft = limit.Hard, Hard = limit.Hard };
            if (SetRLimit(RlimitNofile, in raised) == 0)
            {
                return raised;
            }
        }

        return limit;
    }

    /// <summary>The descriptor limit of <paramref name="pid"/>.</summary>
    public static RLimit Get(int pid) =>
        PrLimitGet(pid, RlimitNofile, IntPtr.Zero, out var old) == 0
            ? old
            : throw new InvalidOperationException($"prlimit(pid {pid}, RLIMIT_NOFILE) failed: errno {Marshal.GetLastPInvokeError()}");

    /// <summary>Sets the descriptor limit of <paramref name="pid"/> (raising a hard limit needs root).</summary>
    public static void Set(int pid, RLimit limit)
    {
        if (PrLimitSet(pid, RlimitNofile, in limit, IntPtr.Zero) != 0)
        {
            throw new InvalidOperationException($"prlimit(pid {pid}, RLIMIT_NOFILE={limit}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport(Libc, EntryPoint = "getrlimit", SetLastError = true)]
    private static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport(Libc, EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimit(int resource, in RLimit limit);

    [LibraryImport(Libc, EntryPoint = "prlimit", SetLastError = true)]
    private static partial int PrLimitGet(int pid, int resource, IntPtr newLimit, out RLimit oldLimit);

    [LibraryImport(Libc, EntryPoint = "prlimit", SetLastError = true)]
    private static partial int PrLimitSet(int pid, int resource, in RLimit newLimit, IntPtr oldLimit);
}
