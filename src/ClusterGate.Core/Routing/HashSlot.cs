using System.Buffers;

namespace ClusterGate.Core.Routing;

/// <summary>Redis Cluster key hashing: CRC16/XMODEM of the key (or of its <c>{tag}</c>) modulo 16384.</summary>
public static class HashSlot
{
    public const int SlotCount = Topology.TopologySnapshot.SlotCount;

    private const int SlotMask = SlotCount - 1;

    private static readonly ushort[] Table = BuildTable();

    /// <summary>CRC16/XMODEM (polynomial 0x1021, initial 0), as Redis's <c>crc16.c</c>.</summary>
    public static ushort Crc16(ReadOnlySpan<byte> data) => Update(0, data);

    /// <summary>The slot of a key, with Redis's <c>keyHashSlot</c> rule for hash tags.</summary>
    public static int Compute(ReadOnlySpan<byte> key) => Crc16(HashedPart(key)) & SlotMask;

    /// <summary>The slot of a key that may span segments; no copy.</summary>
    public static int Compute(in ReadOnlySequence<byte> key)
    {
        if (key.IsSingleSegment)
        {
            return Compute(key.FirstSpan);
        }

        ReadOnlySequence<byte> hashed = key;
        if (key.PositionOf((byte)'{') is { } open)
        {
            ReadOnlySequence<byte> afterOpen = key.Slice(key.GetPosition(1, open));
            if (afterOpen.PositionOf((byte)'}') is { } close)
            {
                ReadOnlySequence<byte> tag = afterOpen.Slice(0, close);
                if (!tag.IsEmpty)
                {
                    hashed = tag;
                }
            }
        }

        ushort crc = 0;
        foreach (ReadOnlyMemory<byte> segment in hashed)
        {
            crc = Update(crc, segment.Span);
        }

        return crc & SlotMask;
    }

    /// <summary>The part Redis hashes: the bytes between the first '{' and the first '}' after it, when not empty.</summary>
    private static ReadOnlySpan<byte> HashedPart(ReadOnlySpan<byte> key)
    {
        int open = key.IndexOf((byte)'{');
        if (open < 0)
        {
            return key;
        }

        int close = key[(open + 1)..].IndexOf((byte)'}');
        return close <= 0 ? key : key.Slice(open + 1, close);
    }

    private static ushort Update(ushort crc, ReadOnlySpan<byte> data)
    {
        ushort[] table = Table;
        foreach (byte b in data)
        {
            crc = (ushort)((crc << 8) ^ table[((crc >> 8) ^ b) & 0xFF]);
        }

        return crc;
    }

    private static ushort[] BuildTable()
    {
        var table = new ushort[256];
        for (int i = 0; i < table.Length; i++)
        {
            int crc = i << 8;
            for (int bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
            }

            table[i] = (ushort)crc;
        }

        return table;
    }
}
