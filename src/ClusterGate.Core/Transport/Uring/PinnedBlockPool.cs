using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace ClusterGate.Core.Transport.Uring;

/// <summary>
/// Pipe memory that never moves: the kernel sends straight from it, so pinning for a send costs nothing
/// (Kestrel's pinned block pool does the same for its sockets). Blocks come from the pinned object heap and are
/// reused; past <see cref="MaxRetained"/> returned blocks are left to the GC, so a burst does not stay resident.
/// </summary>
internal sealed class PinnedBlockPool : MemoryPool<byte>
{
    public const int BlockSize = 4096;
    private const int MaxRetained = 8192;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _retained;

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _retained);
            return block;
        }

        return new Block(this);
    }

    protected override void Dispose(bool disposing)
    {
    }

    private void Return(Block block)
    {
        if (Interlocked.Increment(ref _retained) <= MaxRetained)
        {
            _free.Enqueue(block);
        }
        else
        {
            Interlocked.Decrement(ref _retained);
        }
    }

    private sealed unsafe class Block : MemoryManager<byte>
    {
        private readonly PinnedBlockPool _pool;
        private readonly byte[] _array = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);

        public Block(PinnedBlockPool pool)
        {
            _pool = pool;
            Memory = CreateMemory(BlockSize);
        }

        public override Memory<byte> Memory { get; }

        public override Span<byte> GetSpan() => _array;

        public override MemoryHandle Pin(int elementIndex = 0) =>
            new(Unsafe.AsPointer(ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_array), elementIndex)));

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing) => _pool.Return(this);
    }
}
