using System.Runtime.InteropServices;

namespace ClusterGate.Core.Transport;

/// <summary>The few libc calls the transport needs that .NET does not expose.</summary>
internal static partial class Libc
{
    private const int RlimitNofile = 7;

    /// <summary>The soft <c>RLIMIT_NOFILE</c>, read without opening a file (it works when descriptors ran out); null on failure.</summary>
    public static long? DescriptorLimit()
    {
        if (!OperatingSystem.IsLinux() || getrlimit(RlimitNofile, out var limit) != 0)
        {
            return null;
        }

        return limit.Current > long.MaxValue ? long.MaxValue : (long)limit.Current;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out RLimit limit);
}
