using ClusterGate.Core.Backends;
using ClusterGate.Core.Backends.Shared;
using Xunit;

namespace ClusterGate.Core.UnitTests.Backends.Shared;

/// <summary>
/// A connection retired or aborted before its connect completes: every command queued on it has exactly one outcome
/// (handed back by <see cref="SharedConnection.Retire"/>, handed back through OnConnectFailed, or sent), and the
/// connection opened too late is closed.
/// </summary>
public sealed partial class SharedConnectionTests
{
    [Fact]
    public async Task Retire_WhileConnecting_QueuedRequestsComeBackUnsentInOrder()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var connector = new GatedConnector();
        var shared = new SharedConnection(owner, "A", Endpoint, poolKey: 0);
        var connecting = shared.ConnectAsync(connector, Bound, null, null, null, CancellationToken.None);
        var r1 = new TestRequest("r1", Command("GET", "a"));
        var r2 = new TestRequest("r2", Command("GET", "b")) { Asking = true };
        Assert.True(shared.TryEnqueue(r1));
        Assert.True(shared.TryEnqueue(r2));

        var (sent, unsent) = shared.Retire();

        Assert.Empty(sent);
        Assert.Equal([r1, r2], unsent);
        Assert.True(shared.IsDead);
        Assert.False(shared.TryEnqueue(new TestRequest("late", Command("GET", "c"))));

        connector.Complete();
        await connecting.WaitAsync(Bound);

        // Taken back once: the connect's end hands back nothing more, and nothing reached the node.
        var (queued, _) = await owner.ConnectFailed.Task.WaitAsync(Bound);
        Assert.Empty(queued);
        Assert.Equal(string.Empty, connector.Node.Unread());
    }

    [Fact]
    public async Task ConnectAsync_RetiredWhileConnecting_ClosesTheConnectionItOpened()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var connector = new GatedConnector();
        var shared = new SharedConnection(owner, "A", Endpoint, poolKey: 0);
        var connecting = shared.ConnectAsync(connector, Bound, "gate", "secret", null, CancellationToken.None);
        shared.TryEnqueue(new TestRequest("r1", Command("GET", "a")));

        shared.Retire();
        connector.Complete();
        await connecting.WaitAsync(Bound);

        // Nobody can use it: it is closed at once, not left open with no reader.
        Assert.True(connector.Node.Aborted);
        Assert.True(connector.Node.Context.Disposed);
        Assert.False(owner.Lost.Task.IsCompleted);
    }

    [Fact]
    public async Task Abort_WhileConnecting_QueuedRequestsHandedBackAsConnectFailed()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var connector = new GatedConnector();
        var shared = new SharedConnection(owner, "A", Endpoint, poolKey: 0);
        var connecting = shared.ConnectAsync(connector, Bound, null, null, null, CancellationToken.None);
        var r1 = new TestRequest("r1", Command("GET", "a"));
        var r2 = new TestRequest("r2", Command("SET", "b", "1"));
        shared.TryEnqueue(r1);
        shared.TryEnqueue(r2);

        shared.Abort();
        connector.Complete();
        await connecting.WaitAsync(Bound);

        var (queued, _) = await owner.ConnectFailed.Task.WaitAsync(Bound);
        Assert.Equal([r1, r2], queued);
        Assert.True(shared.IsDead);
        Assert.True(connector.Node.Aborted);
        Assert.Equal(string.Empty, connector.Node.Unread());
    }

    [Fact]
    public async Task ConnectAsync_RetiredWhileConfirming_NoConnectAttempted()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var connector = new InMemoryConnector();
        var confirmed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = new SharedConnection(owner, "A", Endpoint, poolKey: 0);
        var connecting = shared.ConnectAsync(connector, Bound, null, null, _ => confirmed.Task, CancellationToken.None);
        var r1 = new TestRequest("r1", Command("GET", "a"));
        shared.TryEnqueue(r1);

        var (_, unsent) = shared.Retire();
        confirmed.SetResult(true);
        await connecting.WaitAsync(Bound);

        Assert.Equal([r1], unsent);
        Assert.Empty(connector.Attempts);
        var (queued, _) = await owner.ConnectFailed.Task.WaitAsync(Bound);
        Assert.Empty(queued);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task RetireAndAbort_RacingTheConnect_EveryQueuedRequestHasExactlyOneOutcome(bool retire)
    {
        var random = new Random(12345);
        for (var round = 0; round < 300; round++)
        {
            var owner = new RecordingOwner(TimeProvider.System);
            var connector = new GatedConnector();
            var shared = new SharedConnection(owner, "A", Endpoint, poolKey: 0);
            var connecting = shared.ConnectAsync(connector, Bound, null, null, null, CancellationToken.None);
            List<TestRequest> accepted = [];
            for (var i = 0; i < 3; i++)
            {
                var request = new TestRequest($"r{i}", Command("GET", $"k{i}"));
                Assert.True(shared.TryEnqueue(request));
                accepted.Add(request);
            }

            // The connect completes, a client enqueues, and the gateway closes the connection as its callers do
            // (a superseded node's connections are retired, then aborted; at shutdown they are only aborted), all at
            // once. The start order and random spins vary which comes first (the thread pool alone favours one order).
            var late = new TestRequest("late", Command("GET", "late"));
            Task<List<SharedRequest>>? closing = null;
            Task<bool>? enqueuing = null;
            Task? completing = null;
            foreach (var action in Enumerable.Range(0, 3).OrderBy(_ => random.Next()))
            {
                var spin = random.Next(2000);
                switch (action)
                {
                    case 0:
                        closing = Task.Run(() =>
                        {
                            Thread.SpinWait(spin);
                            return RetireAndAbort(shared, retire);
                        });
                        break;
                    case 1:
                        enqueuing = Task.Run(() =>
                        {
                            Thread.SpinWait(spin);
                            return shared.TryEnqueue(late);
                        });
                        break;
                    default:
                        completing = Task.Run(() =>
                        {
                            Thread.SpinWait(spin);
                            connector.Complete();
                        });
                        break;
                }
            }

            await Task.WhenAll(closing!, enqueuing!, completing!).WaitAsync(Bound);
            await connecting.WaitAsync(Bound);
            if (await enqueuing!)
            {
                accepted.Add(late);
            }

            List<SharedRequest> outcomes = [.. await closing!];
            if (owner.ConnectFailed.Task.IsCompleted)
            {
                // The connect lost the race: the connection it opened is closed unused.
                outcomes.AddRange((await owner.ConnectFailed.Task).Queued);
                Assert.True(connector.Node.Aborted, $"round {round}: the connection opened too late was left open");
                Assert.False(owner.Lost.Task.IsCompleted);
            }
            else
            {
                // The connect won: the abort closed it, its loss reports the end, and the owner takes back what it held.
                await owner.Lost.Task.WaitAsync(Bound);
                var (sent, unsent) = shared.Retire();
                outcomes.AddRange(sent);
                outcomes.AddRange(unsent);
            }

            foreach (var request in accepted)
            {
                var count = outcomes.Count(o => ReferenceEquals(o, request));
                Assert.True(count == 1, $"round {round}: {request} has {count} outcomes");
            }

            Assert.Equal(accepted.Count, outcomes.Count);
        }
    }

    private static List<SharedRequest> RetireAndAbort(SharedConnection shared, bool retire)
    {
        List<SharedRequest> handedBack = [];
        if (retire)
        {
            var (sent, unsent) = shared.Retire();
            handedBack.AddRange(sent);
            handedBack.AddRange(unsent);
        }

        shared.Abort();
        return handedBack;
    }

    /// <summary>One connect that completes when the test says: until then the connection is still connecting.</summary>
    private sealed class GatedConnector : IBackendConnector
    {
        private readonly TaskCompletionSource<BackendConnection> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public InMemoryNode Node { get; } = new("A", Endpoint);

        public Task<BackendConnection> ConnectAsync(string nodeId, NodeEndpoint endpoint, TimeSpan timeout, CancellationToken cancellationToken) =>
            _connected.Task;

        public void Complete() => _connected.SetResult(Node.Connection);
    }
}
