using System.Collections.Concurrent;
using ClusterGate.Core.Backends.InFlight;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace ClusterGate.Core.UnitTests.Backends.InFlight;

public sealed class RequestArenaTests
{
    /// <summary>The arena's first ring (<see cref="RequestArena"/>); a copy may take at most a quarter of a ring.</summary>
    private const int FirstRing = 4 * 1024;

    private const int MaxRing = 256 * 1024;

    [Fact]
    public void TryAdd_SmallRequests_CopiesIntactAtDistinctPlaces()
    {
        var arena = new RequestArena();
        var copies = new List<(byte[] Buffer, int Offset, byte[] Expected)>();

        for (var i = 0; i < 20; i++)
        {
            var request = Pattern(i, 50 + i);
            Assert.True(arena.TryAdd(request, out var buffer, out var offset, out var end));
            Assert.True(end > 0);
            copies.Add((buffer, offset, request));
        }

        foreach (var (buffer, offset, expected) in copies)
        {
            Assert.Equal(expected, buffer.AsSpan(offset, expected.Length).ToArray());
        }
    }

    [Fact]
    public void TryAdd_Ends_GrowByEachLength()
    {
        var arena = new RequestArena();

        Assert.True(arena.TryAdd(Pattern(0, 10), out _, out var offset0, out var end0));
        Assert.True(arena.TryAdd(Pattern(1, 20), out _, out var offset1, out var end1));

        Assert.Equal(0, offset0);
        Assert.Equal(10, end0);
        Assert.Equal(10, offset1);
        Assert.Equal(30, end1);
    }

    [Fact]
    public void TryAdd_RingFullWithoutPublish_Refused()
    {
        var arena = new RequestArena();
        for (var i = 0; i < 4; i++)
        {
            Assert.True(arena.TryAdd(Pattern(i, FirstRing / 4), out _, out _, out _));
        }

        Assert.False(arena.TryAdd(Pattern(99, 1), out _, out _, out var end));
        Assert.Equal(0, end);
    }

    [Fact]
    public void TryAdd_ReleasedButNotPublished_StillRefused()
    {
        var arena = new RequestArena();
        long last = 0;
        for (var i = 0; i < 4; i++)
        {
            Assert.True(arena.TryAdd(Pattern(i, 1024), out _, out _, out last));
        }

        arena.Release(last);

        // The producer sees releases only once they are published (once per batch).
        Assert.False(arena.TryAdd(Pattern(9, 1024), out _, out _, out _));
    }

    [Fact]
    public void TryAdd_AfterReleaseAndPublish_ReusesTheSpaceOfTheSameRing()
    {
        var arena = new RequestArena();
        byte[]? ring = null;
        long last = 0;
        for (var i = 0; i < 4; i++)
        {
            Assert.True(arena.TryAdd(Pattern(i, 1024), out ring, out _, out last));
        }

        arena.Release(last);
        arena.Publish();

        var request = Pattern(7, 1024);
        Assert.True(arena.TryAdd(request, out var buffer, out var offset, out _));
        Assert.Same(ring, buffer);
        Assert.Equal(0, offset);
        Assert.Equal(request, buffer.AsSpan(offset, request.Length).ToArray());
    }

    [Fact]
    public void TryAdd_PartialRelease_ReusesOnlyReleasedSpaceAndKeepsLiveCopies()
    {
        var arena = new RequestArena();
        var requests = Enumerable.Range(0, 4).Select(i => Pattern(i, 1024)).ToArray();
        var ends = new long[4];
        byte[]? ring = null;
        for (var i = 0; i < 4; i++)
        {
            Assert.True(arena.TryAdd(requests[i], out ring, out _, out ends[i]));
        }

        arena.Release(ends[0]);
        arena.Publish();

        Assert.True(arena.TryAdd(Pattern(4, 1024), out var buffer, out var offset, out _));
        Assert.Same(ring, buffer);
        Assert.Equal(0, offset);
        Assert.False(arena.TryAdd(Pattern(5, 1), out _, out _, out _));
        for (var i = 1; i < 4; i++)
        {
            Assert.Equal(requests[i], ring!.AsSpan(i * 1024, 1024).ToArray());
        }
    }

    [Fact]
    public void TryAdd_CopyWouldCrossRingEnd_StartsAtRingStart()
    {
        var arena = new RequestArena();
        Assert.True(arena.TryAdd(Pattern(0, 1000), out _, out _, out var end0));
        Assert.True(arena.TryAdd(Pattern(1, 1000), out _, out _, out _));
        Assert.True(arena.TryAdd(Pattern(2, 1000), out _, out _, out _));
        Assert.True(arena.TryAdd(Pattern(3, 1000), out _, out _, out var end3));
        arena.Release(end0);
        arena.Publish();

        // 96 bytes are left at the ring's end: the copy skips them and goes to the released start.
        var request = Pattern(4, 500);
        Assert.True(arena.TryAdd(request, out var buffer, out var offset, out var end));

        Assert.Equal(0, offset);
        Assert.Equal(end3 + (FirstRing - 4000) + 500, end);
        Assert.Equal(request, buffer.AsSpan(0, 500).ToArray());
    }

    [Fact]
    public void TryAdd_LargerThanAQuarterOfTheRing_RefusedThenAcceptedInAGrownRing()
    {
        var arena = new RequestArena();
        Assert.True(arena.TryAdd(Pattern(0, 10), out var first, out _, out _));
        Assert.Equal(FirstRing, first.Length);

        var big = Pattern(1, (FirstRing / 4) + 1);
        Assert.False(arena.TryAdd(big, out _, out _, out var refusedEnd));
        Assert.Equal(0, refusedEnd);

        // The caller kept the refused one elsewhere; the ring grows for the next one.
        Assert.True(arena.TryAdd(big, out var grown, out var offset, out _));
        Assert.Equal(FirstRing * 2, grown.Length);
        Assert.Equal(big, grown.AsSpan(offset, big.Length).ToArray());
    }

    [Fact]
    public void TryAdd_RingGrows_CopiesInTheOldRingStayIntact()
    {
        var arena = new RequestArena();
        var old = Pattern(0, 900);
        Assert.True(arena.TryAdd(old, out var oldRing, out var oldOffset, out _));
        Assert.False(arena.TryAdd(Pattern(1, 2000), out _, out _, out _));

        for (var i = 2; i < 10; i++)
        {
            Assert.True(arena.TryAdd(Pattern(i, 700), out var ring, out _, out _));
            Assert.NotSame(oldRing, ring);
        }

        Assert.Equal(old, oldRing.AsSpan(oldOffset, old.Length).ToArray());
    }

    [Fact]
    public void TryAdd_RingFull_GrowsForTheNextCopy()
    {
        var arena = new RequestArena();
        Assert.Equal(4, FillFirstRing(arena));

        Assert.True(arena.TryAdd(Pattern(51, 100), out var ring, out _, out _));
        Assert.Equal(FirstRing * 2, ring.Length);
    }

    [Fact]
    public void TryAdd_AboveAQuarterOfTheLargestRing_AlwaysRefused()
    {
        var arena = new RequestArena();
        var huge = Pattern(0, (MaxRing / 4) + 1);

        for (var i = 0; i < 12; i++)
        {
            Assert.False(arena.TryAdd(huge, out _, out _, out _));
        }

        // It did not make the ring grow: a small copy still lands in the first ring.
        Assert.True(arena.TryAdd(Pattern(1, 10), out var ring, out _, out _));
        Assert.Equal(FirstRing, ring.Length);
    }

    [Fact]
    public void TryAdd_GrowthStopsAtTheLargestRing()
    {
        var arena = new RequestArena();
        var ringSize = 0;
        for (var i = 0; i < 40; i++)
        {
            // Never released: every full ring asks for a larger one, up to the largest.
            if (arena.TryAdd(Pattern(i, MaxRing / 8), out var ring, out _, out _))
            {
                ringSize = Math.Max(ringSize, ring.Length);
            }
        }

        Assert.Equal(MaxRing, ringSize);
    }

    /// <summary>
    /// A producer thread copies requests of random sizes (some too big, so the ring grows, and refused ones
    /// go to a fallback) while a consumer thread checks each copy's bytes and releases it, in order,
    /// publishing after random-sized batches. A live copy is never overwritten.
    /// </summary>
    [Fact]
    public void TryAdd_ConcurrentReleaseInOrder_NoLiveCopyIsOverwritten()
    {
        var lengths = Gen.Frequency(
            (12, Gen.Choose(0, 300)),
            (4, Gen.Choose(300, 1100)),
            (1, Gen.Choose(1100, 20_000))).ArrayOf().Where(a => a.Length > 0);
        var batches = Gen.Choose(1, 64).ArrayOf().Where(a => a.Length > 0);
        var property = Prop.ForAll(Arb.From(Gen.Zip(lengths, batches)), input =>
        {
            var (requestLengths, consumerBatches) = input;
            var total = Math.Max(requestLengths.Length, 800);
            var arena = new RequestArena();
            var sent = new ConcurrentQueue<Copy>();
            using var stop = new CancellationTokenSource();
            string? failure = null;
            var stored = 0;

            var producer = Task.Factory.StartNew(
                () =>
                {
                    for (var i = 0; i < total && !stop.IsCancellationRequested; i++)
                    {
                        var request = Pattern(i, requestLengths[i % requestLengths.Length]);
                        if (arena.TryAdd(request, out var buffer, out var offset, out var end))
                        {
                            stored++;
                            sent.Enqueue(new Copy(i, buffer, offset, request.Length, end));
                        }
                        else
                        {
                            // The caller's fallback: nothing in the arena to release.
                            sent.Enqueue(new Copy(i, request, 0, request.Length, 0));
                        }

                        // Keep the two sides close, so the ring is both full and emptied in turns.
                        while (sent.Count > 256 && !stop.IsCancellationRequested)
                        {
                            Thread.Yield();
                        }
                    }
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);

            var consumer = Task.Factory.StartNew(
                () =>
                {
                    var expected = 0;
                    for (var b = 0; expected < total && !stop.IsCancellationRequested; b++)
                    {
                        var size = consumerBatches[b % consumerBatches.Length];
                        for (var i = 0; i < size && expected < total && !stop.IsCancellationRequested;)
                        {
                            if (!sent.TryDequeue(out var copy))
                            {
                                Thread.Yield();
                                continue;
                            }

                            if (copy.Sequence != expected || !HasPattern(copy.Sequence, copy.Buffer.AsSpan(copy.Offset, copy.Length)))
                            {
                                failure = $"copy {copy.Sequence} ({copy.Length} bytes at {copy.Offset}, end {copy.End}) was overwritten before its release";
                                stop.Cancel();
                                return;
                            }

                            if (copy.End != 0)
                            {
                                arena.Release(copy.End);
                            }

                            expected++;
                            i++;
                        }

                        arena.Publish();
                    }
                },
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);

            var finished = Task.WaitAll([producer, consumer], TimeSpan.FromSeconds(10));
            stop.Cancel();
            if (failure is not null)
            {
                throw new InvalidOperationException(failure);
            }

            if (!finished)
            {
                throw new TimeoutException("producer/consumer run did not finish in time");
            }

            if (stored == 0)
            {
                throw new InvalidOperationException("nothing was stored in the arena: the run tested nothing");
            }
        });

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(20), property);
    }

    private static int FillFirstRing(RequestArena arena)
    {
        var added = 0;
        // 1000-byte copies: four fit, the fifth is refused (and asks for a larger ring).
        while (arena.TryAdd(Pattern(added, 1000), out var ring, out _, out _))
        {
            Assert.Equal(FirstRing, ring.Length);
            added++;
        }

        return added;
    }

    /// <summary>Bytes that differ by request and by position, so an overwrite by any other copy shows.</summary>
    private static byte[] Pattern(int sequence, int length)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = PatternByte(sequence, i);
        }

        return bytes;
    }

    private static bool HasPattern(int sequence, ReadOnlySpan<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] != PatternByte(sequence, i))
            {
                return false;
            }
        }

        return true;
    }

    private static byte PatternByte(int sequence, int index) => (byte)((sequence * 131) + (index * 7) + (sequence >> 8) + 1);

    private sealed record Copy(int Sequence, byte[] Buffer, int Offset, int Length, long End);
}
