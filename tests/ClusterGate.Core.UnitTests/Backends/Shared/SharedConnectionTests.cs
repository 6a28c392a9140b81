using System.Buffers;
using System.Text;
using System.Threading.Channels;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Backends.Shared;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace ClusterGate.Core.UnitTests.Backends.Shared;

public sealed partial class SharedConnectionTests
{
    private const string Asking = "*1\r\n$6\r\nASKING\r\n";

    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    private static readonly NodeEndpoint Endpoint = new("10.0.0.1", 7000);

    [Fact]
    public async Task OnReply_CommandsOfSeveralClientsInterleaved_HandedBackInWriteOrder()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var (shared, node) = await ConnectAsync(owner);
        TestRequest[] requests =
        [
            new("x1", Command("GET", "x1")),
            new("y1", Command("SET", "y1", "v")),
            new("x2", Command("GET", "x2")),
            new("z1", Command("INCR", "z1")),
            new("y2", Command("GET", "y2")),
            new("x3", Command("DEL", "x3")),
        ];
        foreach (var request in requests)
        {
            Assert.True(shared.TryEnqueue(request));
        }

        shared.Flush();
        await node.ExpectAsync(string.Concat(requests.Select(r => r.Text)));

        // Replies of every type, the fourth split across two reads mid-frame.
        string[] replies = ["$2\r\nx1\r\n", "+OK\r\n", "$-1\r\n", ":42\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n", "-ERR no such key\r\n"];
        var all = string.Concat(replies);
        var cut = all.IndexOf(":42", StringComparison.Ordinal) + 2;
        await node.ReplyAsync(all[..cut]);
        await node.ReplyAsync(all[cut..]);

        for (var i = 0; i < requests.Length; i++)
        {
            var (request, frame) = await owner.NextReplyAsync();
            Assert.Same(requests[i], request);
            Assert.Equal(replies[i], frame);
        }

        Assert.False(owner.HasReply);
        await CloseAsync(owner, node);
    }

    [Fact]
    public async Task Flush_SentCommandUnanswered_LaterCommandsWaitAndGoAsOneBatchWithTheReply()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var (shared, node) = await ConnectAsync(owner);
        var first = new TestRequest("a", Command("GET", "a"));
        var second = new TestRequest("b", Command("GET", "b"));
        var third = new TestRequest("c", Command("GET", "c"));

        shared.TryEnqueue(first);
        shared.Flush();
        await node.ExpectAsync(first.Text);

        // Two more clients write and flush while the first command is out: nothing leaves yet.
        shared.TryEnqueue(second);
        shared.Flush();
        shared.TryEnqueue(third);
        shared.Flush();
        Assert.Equal(string.Empty, node.Unread());

        await node.ReplyAsync(":1\r\n");

        Assert.Same(first, (await owner.NextReplyAsync()).Request);
        await node.ExpectAsync(second.Text + third.Text);
        await CloseAsync(owner, node);
    }

    [Fact]
    public async Task Flush_NothingAwaited_SendsAtOnce()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var (shared, node) = await ConnectAsync(owner);
        var first = new TestRequest("a", Command("GET", "a"));
        shared.TryEnqueue(first);
        shared.Flush();
        await node.ExpectAsync(first.Text);
        await node.ReplyAsync(":1\r\n");
        await owner.NextReplyAsync();

        var second = new TestRequest("b", Command("GET", "b"));
        shared.TryEnqueue(second);
        shared.Flush();

        // Flushed on the caller's thread: already readable.
        Assert.Equal(second.Text, node.Unread());
        await CloseAsync(owner, node);
    }

    [Fact]
    public async Task TryEnqueue_WithoutFlush_NothingSent()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var (shared, node) = await ConnectAsync(owner);

        shared.TryEnqueue(new TestRequest("a", Command("GET", "a")));

        Assert.Equal(string.Empty, node.Unread());
        await CloseAsync(owner, node);
    }

    [Fact]
    public async Task Retire_SomeFlushedSomeOnlyWritten_SplitsSentFromUnsentInOrder()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var (shared, node) = await ConnectAsync(owner);
        var r1 = new TestRequest("r1", Command("SET", "a", "1"));
        var r2 = new TestRequest("r2", Command("GET", "b")) { Asking = true };
        var r3 = new TestRequest("r3", Command("SET", "c", "3"));
        var r4 = new TestRequest("r4", Command("GET", "d")) { Asking = true };
        var r5 = new TestRequest("r5", Command("GET", "e"));
        shared.TryEnqueue(r1);
        shared.TryEnqueue(r2);
        shared.Flush();
        await node.ExpectAsync(r1.Text + Asking + r2.Text);
        shared.TryEnqueue(r3);
        shared.TryEnqueue(r4);
        shared.TryEnqueue(r5);
        shared.Flush();

        var (sent, unsent) = shared.Retire();

        Assert.Equal(["r1", "r2"], sent.Cast<TestRequest>().Select(r => r.Name));
        Assert.Equal(["r3", "r4", "r5"], unsent.Cast<TestRequest>().Select(r => r.Name));
        Assert.True(shared.IsDead);
        Assert.False(shared.TryEnqueue(new TestRequest("late", Command("GET", "f"))));
        await CloseAsync(owner, node);
    }

    [Fact]
    public async Task Retire_PartOfTheSentAnswered_ReturnsOnlyTheUnanswered()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var (shared, node) = await ConnectAsync(owner);
        var r1 = new TestRequest("r1", Command("GET", "a"));
        var r2 = new TestRequest("r2", Command("GET", "b"));
        shared.TryEnqueue(r1);
        shared.TryEnqueue(r2);
        shared.Flush();
        await node.ExpectAsync(r1.Text + r2.Text);
        await node.ReplyAsync(":1\r\n");
        await owner.NextReplyAsync();

        var (sent, unsent) = shared.Retire();

        Assert.Equal(["r2"], sent.Cast<TestRequest>().Select(r => r.Name));
        Assert.Empty(unsent);
        await CloseAsync(owner, node);
    }

    [Fact]
    public async Task IsStalled_CommandOutLongerThanTimeout_TrueUntilAReplyComes()
    {
        var time = new FakeTimeProvider();
        var owner = new RecordingOwner(time);
        var timeout = TimeSpan.FromSeconds(10);
        var (shared, node) = await ConnectAsync(owner);
        Assert.False(shared.IsStalled(time, timeout));

        var r1 = new TestRequest("r1", Command("GET", "a"));
        var r2 = new TestRequest("r2", Command("GET", "b"));
        shared.TryEnqueue(r1);
        shared.TryEnqueue(r2);
        shared.Flush();
        await node.ExpectAsync(r1.Text + r2.Text);

        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(shared.IsStalled(time, timeout));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(shared.IsStalled(time, timeout));

        // A reply is progress: the clock starts again for the command still out.
        await node.ReplyAsync(":1\r\n");
        await owner.NextReplyAsync();
        await owner.NextBatchEndAsync();
        Assert.False(shared.IsStalled(time, timeout));
        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(shared.IsStalled(time, timeout));
        time.Advance(TimeSpan.FromSeconds(2));
        Assert.True(shared.IsStalled(time, timeout));

        await node.ReplyAsync(":2\r\n");
        await owner.NextReplyAsync();
        await owner.NextBatchEndAsync();
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.False(shared.IsStalled(time, timeout));
        await CloseAsync(owner, node);
    }

    [Fact]
    public async Task IsStalled_RetiredConnection_False()
    {
        var time = new FakeTimeProvider();
        var owner = new RecordingOwner(time);
        var (shared, node) = await ConnectAsync(owner);
        shared.TryEnqueue(new TestRequest("r1", Command("GET", "a")));
        shared.Flush();
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(shared.IsStalled(time, TimeSpan.FromSeconds(10)));

        shared.Retire();

        Assert.False(shared.IsStalled(time, TimeSpan.FromSeconds(10)));
        await CloseAsync(owner, node);
    }

    [Fact]
    public async Task ReadLoop_MalformedReply_ReportsTheLossToTheOwner()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var (shared, node) = await ConnectAsync(owner);
        shared.TryEnqueue(new TestRequest("r1", Command("GET", "a")));
        shared.Flush();

        await node.ReplyAsync("$abc\r\n");

        var reason = await owner.Lost.Task.WaitAsync(Bound);
        Assert.Contains("malformed reply", reason, StringComparison.Ordinal);
        Assert.False(owner.HasReply);
        node.Close();
    }

    [Fact]
    public async Task ReadLoop_ServerClosesWithCommandOut_ReportsTheLossToTheOwner()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var (shared, node) = await ConnectAsync(owner);
        var r1 = new TestRequest("r1", Command("GET", "a"));
        shared.TryEnqueue(r1);
        shared.Flush();
        await node.ExpectAsync(r1.Text);

        node.Close();

        Assert.Equal("connection closed by the server", await owner.Lost.Task.WaitAsync(Bound));
        Assert.False(owner.HasReply);

        // What was out is the owner's to take back.
        var (sent, _) = shared.Retire();
        Assert.Same(r1, Assert.Single(sent));
    }

    [Fact]
    public async Task ReadLoop_ReplyForNoCommand_ReportsTheLossToTheOwner()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var (_, node) = await ConnectAsync(owner);

        await node.ReplyAsync("+OK\r\n");

        Assert.Contains("no command", await owner.Lost.Task.WaitAsync(Bound), StringComparison.Ordinal);
        node.Close();
    }

    [Fact]
    public async Task ReadLoop_ServerClosesBeforeWholeReply_ReportsTheLossNotAReply()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var (shared, node) = await ConnectAsync(owner);
        shared.TryEnqueue(new TestRequest("r1", Command("GET", "a")));
        shared.Flush();

        await node.ReplyAsync("$10\r\nabc");
        node.Close();

        await owner.Lost.Task.WaitAsync(Bound);
        Assert.False(owner.HasReply);
    }

    [Fact]
    public async Task TryEnqueue_AskingRequest_AskingWrittenFirstAndItsReplyNotHandedBack()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var (shared, node) = await ConnectAsync(owner);
        var plain = new TestRequest("plain", Command("GET", "a"));
        var asked = new TestRequest("asked", Command("GET", "b")) { Asking = true };
        var after = new TestRequest("after", Command("GET", "c"));
        shared.TryEnqueue(plain);
        shared.TryEnqueue(asked);
        shared.TryEnqueue(after);
        shared.Flush();

        await node.ExpectAsync(plain.Text + Asking + asked.Text + after.Text);
        await node.ReplyAsync(":1\r\n+OK\r\n:2\r\n:3\r\n");

        Assert.Equal((plain, ":1\r\n"), await owner.NextReplyAsync());
        Assert.Equal((asked, ":2\r\n"), await owner.NextReplyAsync());
        Assert.Equal((after, ":3\r\n"), await owner.NextReplyAsync());
        Assert.False(owner.HasReply);
        await CloseAsync(owner, node);
    }

    [Fact]
    public async Task ConnectAsync_RequestsQueuedWhileConnecting_SentInOrderOnceConnected()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var connector = new InMemoryConnector();
        var shared = new SharedConnection(owner, "A", Endpoint, poolKey: 3);
        var r1 = new TestRequest("r1", Command("GET", "a"));
        var r2 = new TestRequest("r2", Command("GET", "b")) { Asking = true };
        Assert.True(shared.TryEnqueue(r1));
        Assert.True(shared.TryEnqueue(r2));

        await shared.ConnectAsync(connector, Bound, null, null, null, CancellationToken.None).WaitAsync(Bound);
        var node = await connector.OpenedAsync(0);

        await node.ExpectAsync(r1.Text + Asking + r2.Text);
        await node.ReplyAsync(":1\r\n+OK\r\n:2\r\n");
        Assert.Equal((r1, ":1\r\n"), await owner.NextReplyAsync());
        Assert.Equal((r2, ":2\r\n"), await owner.NextReplyAsync());
        await CloseAsync(owner, node);
    }

    [Fact]
    public async Task ConnectAsync_WithPassword_AuthFirstAndItsReplyNotHandedBack()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var connector = new InMemoryConnector();
        var shared = new SharedConnection(owner, "A", Endpoint, poolKey: 0);
        var r1 = new TestRequest("r1", Command("GET", "a"));
        shared.TryEnqueue(r1);

        await shared.ConnectAsync(connector, Bound, "gate", "secret", null, CancellationToken.None).WaitAsync(Bound);
        var node = await connector.OpenedAsync(0);

        await node.ExpectAsync(Command("AUTH", "gate", "secret") + r1.Text);
        await node.ReplyAsync("+OK\r\n$1\r\nv\r\n");
        Assert.Equal((r1, "$1\r\nv\r\n"), await owner.NextReplyAsync());
        Assert.False(owner.HasReply);
        await CloseAsync(owner, node);
    }

    [Fact]
    public async Task ConnectAsync_ConnectFails_QueuedRequestsHandedBackAndConnectionDead()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var connector = new InMemoryConnector();
        connector.Fail("A");
        var shared = new SharedConnection(owner, "A", Endpoint, poolKey: 0);
        var r1 = new TestRequest("r1", Command("GET", "a"));
        var r2 = new TestRequest("r2", Command("SET", "b", "1"));
        shared.TryEnqueue(r1);
        shared.TryEnqueue(r2);

        await shared.ConnectAsync(connector, Bound, null, null, null, CancellationToken.None).WaitAsync(Bound);

        var (queued, reason) = await owner.ConnectFailed.Task.WaitAsync(Bound);
        Assert.Equal([r1, r2], queued);
        Assert.Contains("refused", reason, StringComparison.Ordinal);
        Assert.True(shared.IsDead);
        Assert.False(shared.TryEnqueue(new TestRequest("r3", Command("GET", "c"))));
    }

    [Fact]
    public async Task ConnectAsync_ConfirmSaysNodeDown_NoConnectAndQueuedHandedBack()
    {
        var owner = new RecordingOwner(TimeProvider.System);
        var connector = new InMemoryConnector();
        var shared = new SharedConnection(owner, "A", Endpoint, poolKey: 0);
        var r1 = new TestRequest("r1", Command("GET", "a"));
        shared.TryEnqueue(r1);

        await shared.ConnectAsync(connector, Bound, null, null, _ => Task.FromResult(false), CancellationToken.None).WaitAsync(Bound);

        var (queued, _) = await owner.ConnectFailed.Task.WaitAsync(Bound);
        Assert.Equal([r1], queued);
        Assert.Empty(connector.Attempts);
        Assert.True(shared.IsDead);
    }

    private static async Task<(SharedConnection Shared, InMemoryNode Node)> ConnectAsync(RecordingOwner owner)
    {
        var connector = new InMemoryConnector();
        var shared = new SharedConnection(owner, "A", Endpoint, poolKey: 0);
        await shared.ConnectAsync(connector, Bound, null, null, null, CancellationToken.None).WaitAsync(Bound);
        return (shared, await connector.OpenedAsync(0));
    }

    /// <summary>Ends the read loop: the node closes, and the owner hears of it.</summary>
    private static async Task CloseAsync(RecordingOwner owner, InMemoryNode node)
    {
        node.Close();
        await owner.Lost.Task.WaitAsync(Bound);
    }

    private static string Command(params string[] args)
    {
        var text = new StringBuilder();
        text.Append('*').Append(args.Length).Append("\r\n");
        foreach (var arg in args)
        {
            text.Append('$').Append(Encoding.Latin1.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
        }

        return text.ToString();
    }

    private sealed class TestRequest(string name, string text) : SharedRequest
    {
        private readonly byte[] _bytes = Encoding.Latin1.GetBytes(text);

        public string Name { get; } = name;

        public string Text { get; } = text;

        public override ReadOnlyMemory<byte> Bytes => _bytes;

        public override string ToString() => Name;
    }

    /// <summary>Records what the connection reports; a batch's end is signalled through the batch, as client writers are.</summary>
    private sealed class RecordingOwner(TimeProvider time) : ISharedConnectionOwner, IBatchFlush
    {
        private readonly Channel<(SharedRequest Request, string Frame)> _replies = Channel.CreateUnbounded<(SharedRequest, string)>();
        private readonly Channel<bool> _batchEnds = Channel.CreateUnbounded<bool>();
        private bool _deferred;

        public TimeProvider Time { get; } = time;

        public TaskCompletionSource<string> Lost { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<(List<SharedRequest> Queued, string Reason)> ConnectFailed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool HasReply => _replies.Reader.TryPeek(out _);

        public void OnReply(SharedConnection connection, SharedRequest request, in ReadOnlySequence<byte> frame, ReplyBatch batch)
        {
            _replies.Writer.TryWrite((request, Encoding.Latin1.GetString(frame)));
            if (!_deferred)
            {
                _deferred = true;
                batch.DeferWriter(this);
            }
        }

        public void OnConnectionLost(SharedConnection connection, string reason) => Lost.TrySetResult(reason);

        public void OnConnectFailed(SharedConnection connection, List<SharedRequest> queued, string reason) => ConnectFailed.TrySetResult((queued, reason));

        /// <summary>The reader finished handling a read (after its progress time was noted).</summary>
        public void FlushAtBatchEnd()
        {
            _deferred = false;
            _batchEnds.Writer.TryWrite(true);
        }

        public async Task<(SharedRequest Request, string Frame)> NextReplyAsync() => await _replies.Reader.ReadAsync().AsTask().WaitAsync(Bound);

        public async Task NextBatchEndAsync() => await _batchEnds.Reader.ReadAsync().AsTask().WaitAsync(Bound);
    }
}
