using System.Buffers;

namespace ClusterGate.Core.UnitTests.Resp;

/// <summary>Builds multi-segment buffers on purpose, including empty and one-byte segments.</summary>
internal static class SegmentedSequence
{
    /// <summary>One segment per chunk, in order; empty chunks give empty segments.</summary>
    public static ReadOnlySequence<byte> FromChunks(IReadOnlyList<byte[]> chunks)
    {
        ArgumentNullException.ThrowIfNull(chunks);
        if (chunks.Count == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(chunks[0], 0);
        Segment last = first;
        for (int i = 1; i < chunks.Count; i++)
        {
            last = last.Append(chunks[i]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Cuts <paramref name="data"/> at the given offsets (any order, repeats make empty segments).</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, IEnumerable<int> cuts)
    {
        var chunks = new List<byte[]>();
        int previous = 0;
        foreach (int cut in cuts.Select(c => Math.Clamp(c, 0, data.Length)).Order())
        {
            chunks.Add(data[previous..cut]);
            previous = cut;
        }

        chunks.Add(data[previous..]);
        return FromChunks(chunks);
    }

    /// <summary>One byte per segment.</summary>
    public static ReadOnlySequence<byte> BytePerSegment(byte[] data) => Split(data, Enumerable.Range(1, Math.Max(0, data.Length - 1)));

    /// <summary>Offsets that fall between a CR and the LF after it.</summary>
    public static IEnumerable<int> InsideCrLf(byte[] data)
    {
        for (int i = 0; i + 1 < data.Length; i++)
        {
            if (data[i] == '\r' && data[i + 1] == '\n')
            {
                yield return i + 1;
            }
        }
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
