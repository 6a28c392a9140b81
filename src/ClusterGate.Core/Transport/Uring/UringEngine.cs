using System.Buffers;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Transport.Uring;

/// <summary>
/// The rings of the io_uring transport, one per I/O thread, and the memory their pipes share. Listeners arm an
/// accept on every ring (the kernel hands each connection to one of them); an outgoing connection opened from a
/// ring's thread stays on that ring, so a client and the backend connection it opens share a thread.
/// </summary>
public sealed class UringEngine : IDisposable
{
    private readonly UringRing[] _rings;
    private int _next;
    private int _generation;

    private UringEngine(UringRing[] rings)
    {
        _rings = rings;
    }

    public int RingCount => _rings.Length;

    /// <summary>Connections open on every ring now.</summary>
    public int LiveConnections => _rings.Sum(r => r.LiveConnections);

    internal MemoryPool<byte> Pool { get; } = new PinnedBlockPool();

    internal IReadOnlyList<UringRing> Rings => _rings;

    /// <summary>Starts <paramref name="threads"/> rings; throws <see cref="UringUnavailableException"/> when io_uring cannot be used.</summary>
    public static UringEngine Start(int threads, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        if (UringSupport.Unavailable() is { } reason)
        {
            throw new UringUnavailableException(reason);
        }

        var logger = loggerFactory.CreateLogger("ClusterGate.Transport");
        var rings = new List<UringRing>();
        try
        {
            for (var i = 0; i < threads; i++)
            {
                rings.Add(UringRing.Create(i, logger));
            }
        }
        catch
        {
            foreach (var ring in rings)
            {
                ring.Dispose();
            }

            throw;
        }

        return new UringEngine([.. rings]);
    }

    /// <summary>The ring whose thread is calling, else the next one in turn.</summary>
    internal UringRing RingForCaller()
    {
        foreach (var ring in _rings)
        {
            if (ring.IsRingThread)
            {
                return ring;
            }
        }

        return _rings[(int)((uint)Interlocked.Increment(ref _next) % (uint)_rings.Length)];
    }

    internal ushort NextGeneration() => (ushort)Interlocked.Increment(ref _generation);

    public void Dispose()
    {
        foreach (var ring in _rings)
        {
            ring.Stop();
        }

        foreach (var ring in _rings)
        {
            ring.Dispose();
        }
    }
}
