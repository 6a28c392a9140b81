using System.Runtime.CompilerServices;
using ClusterGate.Core.Backends.InFlight;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace ClusterGate.Core.UnitTests.Backends.InFlight;

public sealed class PendingQueueTests
{
    /// <summary>The first ring's size in <see cref="PendingQueue"/>: past it, items go to linked rings.</summary>
    private const int FirstRing = 64;

    [Fact]
    public void TryDequeue_AfterEnqueues_ReturnsThemInOrderThenFalse()
    {
        var queue = new PendingQueue();
        for (var i = 0; i < 10; i++)
        {
            queue.Enqueue(Item(i));
        }

        for (var i = 0; i < 10; i++)
        {
            Assert.True(queue.TryDequeue(out var item));
            AssertItem(i, item);
        }

        Assert.False(queue.TryDequeue(out _));
        Assert.True(queue.IsEmpty);
    }

    [Fact]
    public void Enqueue_BeyondSeveralRings_KeepsFifoOrder()
    {
        var queue = new PendingQueue();
        const int Count = (FirstRing * 7) + 3; // fills the 64, 128 and 256 rings and starts the 512 one

        for (var i = 0; i < Count; i++)
        {
            queue.Enqueue(Item(i));
        }

        for (var i = 0; i < Count; i++)
        {
            Assert.True(queue.TryDequeue(out var item), $"item {i} missing");
            AssertItem(i, item);
        }

        Assert.True(queue.IsEmpty);
    }

    [Fact]
    public void Enqueue_InterleavedWithDequeues_WrapsRingsAndKeepsOrder()
    {
        var queue = new PendingQueue();
        var next = 0;
        var expected = 0;

        // Uneven rounds: the ring wraps many times, and some rounds overflow it into a new ring.
        for (var round = 0; round < 200; round++)
        {
            var add = (round * 37 % 150) + 1;
            for (var i = 0; i < add; i++)
            {
                queue.Enqueue(Item(next++));
            }

            var take = (round * 53 % 140) + 1;
            for (var i = 0; i < take && queue.TryDequeue(out var item); i++)
            {
                AssertItem(expected++, item);
            }
        }

        while (queue.TryDequeue(out var item))
        {
            AssertItem(expected++, item);
        }

        Assert.Equal(next, expected);
    }

    [Fact]
    public void PeekHead_EmptyQueue_ReturnsNullRef()
    {
        var queue = new PendingQueue();

        Assert.True(Unsafe.IsNullRef(ref queue.PeekHead()));
        Assert.True(queue.IsEmpty);
    }

    [Fact]
    public void PeekHead_UpdatedInPlace_ChangeSeenByNextPeekAndDequeue()
    {
        var queue = new PendingQueue();
        queue.Enqueue(Item(0, repliesLeft: 3));
        queue.Enqueue(Item(1));

        ref var head = ref queue.PeekHead();
        head.RepliesLeft--;

        Assert.Equal(2, queue.PeekHead().RepliesLeft);
        Assert.True(queue.TryDequeue(out var first));
        Assert.Equal(2, first.RepliesLeft);
        AssertItem(1, queue.PeekHead());
    }

    [Fact]
    public void DequeueHead_AfterPeek_RemovesOnlyTheHead()
    {
        var queue = new PendingQueue();
        queue.Enqueue(Item(0));
        queue.Enqueue(Item(1));

        AssertItem(0, queue.PeekHead());
        queue.DequeueHead();

        AssertItem(1, queue.PeekHead());
        queue.DequeueHead();
        Assert.True(queue.IsEmpty);
    }

    [Fact]
    public void PeekHead_ConsumerReachesEndOfFullRing_MovesToNextRing()
    {
        var queue = new PendingQueue();
        for (var i = 0; i < FirstRing + 1; i++)
        {
            queue.Enqueue(Item(i));
        }

        for (var i = 0; i < FirstRing + 1; i++)
        {
            AssertItem(i, queue.PeekHead());
            queue.DequeueHead();
        }

        Assert.True(queue.IsEmpty);

        // The producer keeps writing to the new ring; the consumer finds it there.
        queue.Enqueue(Item(FirstRing + 1));
        AssertItem(FirstRing + 1, queue.PeekHead());
    }

    [Fact]
    public void AnyAwaitingBackend_OnlyLocalReplies_False()
    {
        var queue = new PendingQueue();
        queue.Enqueue(PendingCommand.Local("+OK\r\n"u8.ToArray()));
        queue.Enqueue(PendingCommand.Local("+PONG\r\n"u8.ToArray()));

        Assert.False(queue.AnyAwaitingBackend());
    }

    [Fact]
    public void AnyAwaitingBackend_Empty_False()
    {
        Assert.False(new PendingQueue().AnyAwaitingBackend());
    }

    [Fact]
    public void AnyAwaitingBackend_BackendCommandBehindLocalReplies_True()
    {
        var queue = new PendingQueue();
        queue.Enqueue(PendingCommand.Local("+OK\r\n"u8.ToArray()));
        queue.Enqueue(Item(1));

        Assert.True(queue.AnyAwaitingBackend());
    }

    [Fact]
    public void AnyAwaitingBackend_BackendCommandDequeued_False()
    {
        var queue = new PendingQueue();
        queue.Enqueue(Item(0));
        queue.Enqueue(PendingCommand.Local("+OK\r\n"u8.ToArray()));

        Assert.True(queue.TryDequeue(out _));

        Assert.False(queue.AnyAwaitingBackend());
    }

    [Fact]
    public void AnyAwaitingBackend_BackendCommandInALaterRing_True()
    {
        var queue = new PendingQueue();
        for (var i = 0; i < FirstRing; i++)
        {
            queue.Enqueue(PendingCommand.Local("+OK\r\n"u8.ToArray()));
        }

        queue.Enqueue(Item(FirstRing));

        Assert.True(queue.AnyAwaitingBackend());
        for (var i = 0; i < FirstRing; i++)
        {
            Assert.True(queue.TryDequeue(out _));
        }

        Assert.True(queue.AnyAwaitingBackend());
        Assert.True(queue.TryDequeue(out _));
        Assert.False(queue.AnyAwaitingBackend());
    }

    /// <summary>
    /// One producer thread and one consumer thread at once, each going in random-sized batches (the consumer
    /// sometimes lags so rings fill and link, sometimes keeps up so it reads from the ring being written):
    /// every item comes out exactly once, in order, with its fields intact.
    /// </summary>
    [Fact]
    public void EnqueueAndDequeue_ConcurrentProducerAndConsumer_EveryItemOnceInOrder()
    {
        var batches = Gen.Choose(1, 300).ArrayOf().Where(a => a.Length > 0);
        var property = Prop.ForAll(Arb.From(Gen.Zip(batches, batches)), sizes =>
        {
            var (producerBatches, consumerBatches) = sizes;
            var total = Math.Min(producerBatches.Sum(), 4_000);
            var queue = new PendingQueue();
            using var stop = new CancellationTokenSource();
            string? failure = null;

            var producer = Task.Factory.StartNew(
                () =>
                {
                    var next = 0;
                    for (var b = 0; next < total && !stop.IsCancellationRequested; b++)
                    {
                        var size = producerBatches[b % producerBatches.Length];
                        for (var i = 0; i < size && next < total; i++)
                        {
                            queue.Enqueue(Item(next++));
                        }

                        Thread.Yield();
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
                        for (var i = 0; i < size && expected < total; i++)
                        {
                            PendingCommand item;
                            if ((expected & 1) == 0)
                            {
                                ref var head = ref queue.PeekHead();
                                if (Unsafe.IsNullRef(ref head))
                                {
                                    break;
                                }

                                item = head;
                                queue.DequeueHead();
                            }
                            else if (!queue.TryDequeue(out item))
                            {
                                break;
                            }

                            if (!IsItem(expected, item))
                            {
                                failure = $"expected item {expected}, got offset {item.Offset} length {item.Length} end {item.ArenaEnd}";
                                stop.Cancel();
                                return;
                            }

                            expected++;
                        }

                        Thread.Yield();
                    }

                    if (expected == total && queue.TryDequeue(out var extra))
                    {
                        failure = $"an extra item came out: offset {extra.Offset}";
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
        });

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(25), property);
    }

    private static PendingCommand Item(int sequence, int repliesLeft = 1) => new()
    {
        Offset = sequence,
        Length = ~sequence,
        ArenaEnd = (long)sequence * 3,
        RepliesLeft = repliesLeft,
        Kind = CommandKind.Normal,
        Flags = PendingFlags.HoldsCredit,
    };

    private static bool IsItem(int sequence, in PendingCommand item) =>
        item.Offset == sequence && item.Length == ~sequence && item.ArenaEnd == (long)sequence * 3 && item.LocalReply is null;

    private static void AssertItem(int sequence, in PendingCommand item) =>
        Assert.True(IsItem(sequence, item), $"expected item {sequence}, got offset {item.Offset}");
}
