using System.Buffers;

namespace ClusterGate.Core.Backends.InFlight;

/// <summary>
/// Buffers for commands and replies held by the router: small ones (the common case) are plain
/// short-lived arrays, which cost less than the shared pool's thread-local lookups on every command;
/// big ones come from the shared pool so large values do not churn the large object heap.
/// </summary>
internal static class PooledBytes
{
    private const int PoolFrom = 1024;

    public static byte[] Take(int length) =>
        length < PoolFrom ? GC.AllocateUninitializedArray<byte>(length) : ArrayPool<byte>.Shared.Rent(length);

    public static void Give(byte[] buffer)
    {
        if (buffer.Length >= PoolFrom)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
