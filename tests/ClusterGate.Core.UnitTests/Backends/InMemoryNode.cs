using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using ClusterGate.Core.Backends;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Xunit;

namespace ClusterGate.Core.UnitTests.Backends;

/// <summary>
/// The node's end of an in-memory backend connection: reads what the gateway wrote (only what it flushed), writes
/// replies, closes. <see cref="Connection"/> is the gateway's end. Aborting the connection ends the gateway's reads
/// as a socket abort does.
/// </summary>
internal sealed class InMemoryNode
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    private readonly Pipe _toNode = new();
    private readonly Pipe _toGateway = new();
    private readonly Lock _gate = new();
    private bool _closed;

    public InMemoryNode(string nodeId, NodeEndpoint endpoint)
    {
        Context = new InMemoryConnectionContext(new DuplexPipe(_toGateway.Reader, _toNode.Writer), Abort);
        Connection = new BackendConnection(Context, nodeId, endpoint);
    }

    public BackendConnection Connection { get; }

    public InMemoryConnectionContext Context { get; }

    public bool Aborted { get; private set; }

    /// <summary>Reads exactly <paramref name="length"/> bytes the gateway flushed (Latin-1), waiting up to a bound.</summary>
    public Task<string> ReceiveAsync(int length) => PipeText.ReadAsync(_toNode.Reader, length, "the node");

    /// <summary>Asserts that the next bytes the gateway flushed are exactly <paramref name="expected"/>.</summary>
    public Task ExpectAsync(string expected) => PipeText.ExpectAsync(_toNode.Reader, expected, "the node");

    /// <summary>What the gateway flushed and the node has not read yet (nothing waits).</summary>
    public string Unread() => PipeText.Unread(_toNode.Reader);

    public async Task ReplyAsync(string reply)
    {
        ValueTask<FlushResult> flush;
        lock (_gate)
        {
            if (_closed)
            {
                throw new InvalidOperationException("the node's connection is closed");
            }

            _toGateway.Writer.Write(Encoding.Latin1.GetBytes(reply));
            flush = _toGateway.Writer.FlushAsync();
        }

        await flush.AsTask().WaitAsync(Bound);
    }

    /// <summary>The node closes the connection (a crash, a restart): the gateway reads the end of the stream.</summary>
    public void Close()
    {
        lock (_gate)
        {
            if (!_closed)
            {
                _closed = true;
                _toGateway.Writer.Complete();
            }
        }
    }

    private void Abort()
    {
        Aborted = true;
        Close();
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}

/// <summary>Reads text from a pipe in tests, exactly as much as expected, never waiting without a bound.</summary>
internal static class PipeText
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    /// <summary>Reads exactly <paramref name="length"/> bytes (Latin-1), leaving what follows for the next read.</summary>
    public static async Task<string> ReadAsync(PipeReader reader, int length, string who)
    {
        using var timeout = new CancellationTokenSource(Bound);
        var seen = 0L;
        while (true)
        {
            ReadResult result;
            try
            {
                result = await reader.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{who} did not receive {length} bytes within {Bound} (got {seen})");
            }

            var buffer = result.Buffer;
            seen = buffer.Length;
            if (buffer.Length >= length)
            {
                var text = Encoding.Latin1.GetString(buffer.Slice(0, length));
                reader.AdvanceTo(buffer.GetPosition(length));
                return text;
            }

            if (result.IsCompleted)
            {
                var text = Encoding.Latin1.GetString(buffer);
                reader.AdvanceTo(buffer.End);
                throw new InvalidOperationException($"the stream to {who} ended after only \"{Escape(text)}\"");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Asserts that the next bytes are exactly <paramref name="expected"/>.</summary>
    public static async Task ExpectAsync(PipeReader reader, string expected, string who) =>
        Assert.Equal(Escape(expected), Escape(await ReadAsync(reader, Encoding.Latin1.GetByteCount(expected), who)));

    /// <summary>What is readable now, left in the pipe (nothing waits).</summary>
    public static string Unread(PipeReader reader)
    {
        if (!reader.TryRead(out var result))
        {
            return string.Empty;
        }

        var text = Encoding.Latin1.GetString(result.Buffer);
        reader.AdvanceTo(result.Buffer.Start);
        return text;
    }

    public static string Escape(string text) => text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
}

/// <summary>
/// A connection context over in-memory pipes. Not <see cref="DefaultConnectionContext"/>: its Abort only cancels a
/// token, where a socket's abort ends the pending read, which is what the code under test relies on.
/// </summary>
internal sealed class InMemoryConnectionContext(IDuplexPipe transport, Action abort) : ConnectionContext
{
    private int _disposed;

    public override string ConnectionId { get; set; } = Guid.NewGuid().ToString("N");

    public override IFeatureCollection Features { get; } = new FeatureCollection();

    public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

    public override IDuplexPipe Transport { get; set; } = transport;

    public bool Disposed => Volatile.Read(ref _disposed) != 0;

    public override void Abort(ConnectionAbortedException abortReason) => abort();

    public override ValueTask DisposeAsync()
    {
        Volatile.Write(ref _disposed, 1);
        return base.DisposeAsync();
    }
}

/// <summary>Opens in-memory connections: each connect makes a new <see cref="InMemoryNode"/>, or fails on demand.</summary>
internal sealed class InMemoryConnector : IBackendConnector
{
    private readonly Lock _gate = new();
    private readonly List<InMemoryNode> _opened = [];
    private readonly List<string> _attempts = [];
    private readonly HashSet<string> _failing = new(StringComparer.Ordinal);
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Node ids of every connect attempt, in order (failed ones too).</summary>
    public IReadOnlyList<string> Attempts
    {
        get
        {
            lock (_gate)
            {
                return [.. _attempts];
            }
        }
    }

    /// <summary>Connects to <paramref name="nodeId"/> fail (connection refused) until <see cref="Heal"/>.</summary>
    public void Fail(string nodeId)
    {
        lock (_gate)
        {
            _failing.Add(nodeId);
        }
    }

    public void Heal(string nodeId)
    {
        lock (_gate)
        {
            _failing.Remove(nodeId);
        }
    }

    public Task<BackendConnection> ConnectAsync(string nodeId, NodeEndpoint endpoint, TimeSpan timeout, CancellationToken cancellationToken)
    {
        TaskCompletionSource changed;
        Task<BackendConnection> result;
        lock (_gate)
        {
            _attempts.Add(nodeId);
            if (_failing.Contains(nodeId))
            {
                result = Task.FromException<BackendConnection>(new IOException($"connection to {endpoint} refused"));
            }
            else
            {
                var node = new InMemoryNode(nodeId, endpoint);
                _opened.Add(node);
                result = Task.FromResult(node.Connection);
            }

            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
        return result;
    }

    /// <summary>The <paramref name="index"/>th connection opened (0 first), waiting for it up to a bound.</summary>
    public async Task<InMemoryNode> OpenedAsync(int index)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_opened.Count > index)
                {
                    return _opened[index];
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"connection {index} was not opened within 5 s");
            }
        }
    }

    /// <summary>Waits (bounded) until at least <paramref name="count"/> connects were attempted.</summary>
    public async Task AttemptedAsync(int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                if (_attempts.Count >= count)
                {
                    return;
                }

                changed = _changed.Task;
            }

            try
            {
                await changed.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"{count} connects were not attempted within 5 s");
            }
        }
    }
}
