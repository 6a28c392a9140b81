using System.Buffers;
using ClusterGate.Core.Resp;

namespace ClusterGate.Core.Backends.Shared;

/// <summary>
/// One shared, pipelined connection to a master. Many clients' commands are written to it; replies
/// come back in the order the commands were written and are handed to each command's sink. Writes
/// are collected and flushed once per batch.
/// </summary>
internal sealed class SharedConnection : IBatchFlush
{
    private static readonly byte[] AskingCommand = "*1\r\n$6\r\nASKING\r\n"u8.ToArray();

    private readonly ISharedConnectionOwner _owner;
    private readonly Lock _gate = new();
    private readonly Queue<SharedRequest?> _inFlight = new();
    private readonly List<SharedRequest> _waitingForConnect = [];
    private BackendConnection? _connection;
    private RespScanState _scan;

    // Entries of _inFlight written to the pipe since the last flush, and entries flushed (sent) whose
    // reply has not come back yet. While anything sent is unanswered, clients do not flush: the reader
    // flushes everything collected meanwhile as one batch when replies come back (one send and one
    // receive per batch on the backend instead of one per client read).
    private int _unflushed;
    private int _awaiting;
    private bool _dirty;
    private bool _flushing;
    private bool _dead;

    // When a reply last arrived, or when commands were sent with none awaited before (TimeProvider timestamps).
    private long _progressAt;
    private volatile bool _stalled;

    public SharedConnection(ISharedConnectionOwner owner, string nodeId, NodeEndpoint connect, long poolKey, int protocol = 2)
    {
        _owner = owner;
        NodeId = nodeId;
        Connect = connect;
        PoolKey = poolKey;
        Protocol = protocol;
    }

    /// <summary>The RESP version the connection speaks (HELLO 3 at connect for RESP3 clients' commands).</summary>
    public int Protocol { get; }

    public string NodeId { get; }

    /// <summary>Where the commands written here are counted: the group the node was master of when the connection was made.</summary>
    public Observability.GroupStats? Group { get; init; }

    /// <summary>Where the node is reached (after the address map).</summary>
    public NodeEndpoint Connect { get; }

    /// <summary>The session id that chose this connection's place in its node's pool (its replacement takes the same place).</summary>
    public long PoolKey { get; }

    public bool IsDead => Volatile.Read(ref _dead);

    /// <summary>Connected (and authenticated) to its node; false while it connects.</summary>
    public bool IsConnected => Volatile.Read(ref _connection) is not null;

    /// <summary>Closed by the gateway because no reply came within the reply timeout.</summary>
    public bool Stalled => _stalled;

    /// <summary>
    /// Whether commands were sent and nothing came back for longer than <paramref name="timeout"/>: a command
    /// that never gets its reply would otherwise hold every later reply on this connection for good.
    /// </summary>
    public bool IsStalled(TimeProvider time, TimeSpan timeout)
    {
        lock (_gate)
        {
            return _awaiting > 0 && !_dead && time.GetElapsedTime(_progressAt) > timeout;
        }
    }

    /// <summary>Closes a stalled connection; its reader hands the commands in flight back to the dispatcher.</summary>
    public void AbortStalled()
    {
        _stalled = true;
        _connection?.Abort();
    }

    /// <param name="confirm">When set, the connection is opened only if it answers true (queued commands wait meanwhile).</param>
    /// <remarks>
    /// The connection may be retired or aborted while this runs. Then it is not used: what it opened is closed, and
    /// the owner hears of the end through <see cref="ISharedConnectionOwner.OnConnectFailed"/> with the commands still
    /// queued (none when <see cref="Retire"/> took them back already), so each queued command has one outcome.
    /// </remarks>
    public async Task ConnectAsync(
        IBackendConnector connector,
        TimeSpan connectTimeout,
        string? user,
        string? password,
        Func<CancellationToken, Task<bool>>? confirm,
        CancellationToken cancellationToken)
    {
        BackendConnection? unused = null;
        try
        {
            if (confirm is not null && !await confirm(cancellationToken))
            {
                throw new IOException($"{Connect} is down in the topology refreshed after its connection was lost");
            }

            ThrowIfClosedWhileConnecting();
            var connection = await connector.ConnectAsync(NodeId, Connect, connectTimeout, cancellationToken);
            unused = connection;
            var auth = password is not null || Protocol == 3;
            if (auth)
            {
                // One command whose reply answers nobody: AUTH, or HELLO 3 (with AUTH) for a RESP3 connection.
                var command = new ArrayBufferWriter<byte>();
                string[] credentials = password is null ? [] : ["AUTH", user ?? "default", password];
                RespWriter.WriteCommand(command, Protocol == 3
                    ? ["HELLO", "3", .. credentials]
                    : user is not null ? ["AUTH", user, password!] : ["AUTH", password!]);
                connection.Output.Write(command.WrittenSpan);
            }

            lock (_gate)
            {
                ThrowIfClosedWhileConnecting();
                if (auth)
                {
                    _inFlight.Enqueue(null);
                    _unflushed++;
                    _dirty = true;
                }

                _connection = connection;
                unused = null;
                List<SharedRequest> queued = [.. _waitingForConnect];
                _waitingForConnect.Clear();
                foreach (var request in queued)
                {
                    WriteLocked(request);
                }
            }

            _ = Task.Run(() => ReadLoopAsync(connection), CancellationToken.None);
            Flush();
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            List<SharedRequest> queued;
            lock (_gate)
            {
                _dead = true;
                queued = [.. _waitingForConnect];
                _waitingForConnect.Clear();
            }

            // Never left the gateway: safe to route again (after a refresh, within the hold time).
            _owner.OnConnectFailed(this, queued, ex.Message);
            if (unused is not null)
            {
                // Opened after the gateway gave the connection up: nothing was sent on it and no reader runs.
                unused.Abort();
                await unused.DisposeAsync();
            }
        }
    }

    /// <summary>Retired or aborted while connecting (under the lock, or before connecting: then it only saves a connect).</summary>
    private void ThrowIfClosedWhileConnecting()
    {
        if (Volatile.Read(ref _dead))
        {
            throw new IOException($"connection to {Connect} closed by the gateway while connecting");
        }
    }

    /// <summary>Queues the command on this connection; false when the connection is dead (route it elsewhere).</summary>
    public bool TryEnqueue(SharedRequest request)
    {
        lock (_gate)
        {
            if (_dead)
            {
                return false;
            }

            if (_connection is null)
            {
                _waitingForConnect.Add(request);
                return true;
            }

            WriteLocked(request);
            return true;
        }
    }

    private void WriteLocked(SharedRequest request)
    {
        var output = _connection!.Output;
        if (request.Asking)
        {
            _inFlight.Enqueue(null);
            _unflushed++;
            output.Write(AskingCommand);
        }

        for (var i = 1; i < request.Replies; i++)
        {
            // The frames before the last one of a batch (MULTI's +OK, each +QUEUED) answer nobody.
            _inFlight.Enqueue(null);
            _unflushed++;
        }

        _inFlight.Enqueue(request);
        _unflushed++;
        Group?.Commands.Increment();
        if (request.Timed)
        {
            request.SentAt = System.Diagnostics.Stopwatch.GetTimestamp();
            request.SentTo = Group;
        }

        output.Write(request.Bytes.Span);
        _dirty = true;
    }

    /// <summary>
    /// Sends what was written since the last flush, unless commands already sent are still unanswered:
    /// then the reader sends it when their replies arrive (<paramref name="fromReader"/>). One flush at a
    /// time; a flush that waits on backpressure leaves the rest to the reader.
    /// </summary>
    public void Flush(bool fromReader = false)
    {
        ValueTask<System.IO.Pipelines.FlushResult> flush;
        lock (_gate)
        {
            if (!_dirty || _flushing || _connection is null || _dead || (_awaiting > 0 && !fromReader))
            {
                return;
            }

            _dirty = false;
            if (_awaiting == 0)
            {
                _progressAt = _owner.Time.GetTimestamp();
            }

            _awaiting += _unflushed;
            _unflushed = 0;
            try
            {
                flush = _connection.Output.FlushAsync();
            }
            catch (Exception)
            {
                return;
            }

            if (flush.IsCompleted)
            {
                return;
            }

            _flushing = true;
        }

        _ = AwaitFlushAsync(flush);
    }

    private async Task AwaitFlushAsync(ValueTask<System.IO.Pipelines.FlushResult> flush)
    {
        try
        {
            await flush;
        }
        catch (Exception)
        {
            // The read loop sees the connection die and handles the commands in flight.
        }

        lock (_gate)
        {
            _flushing = false;
        }

        Flush();
    }

    private async Task ReadLoopAsync(BackendConnection connection)
    {
        var input = connection.Input;
        var batch = new ReplyBatch();
        string reason = "connection closed by the server";
        try
        {
            while (true)
            {
                var result = await input.ReadAsync();
                var buffer = result.Buffer;
                var consumed = buffer.Start;
                try
                {
                    while (true)
                    {
                        var rest = buffer.Slice(consumed);
                        if (rest.IsEmpty)
                        {
                            break;
                        }

                        ReadOnlySequence<byte> frame;

                        // The usual reply (simple string, integer, bulk) whole in one segment: no general scan.
                        var simple = _scan.IsInProgress ? 0 : RespSimpleFrame.TryScan(rest.FirstSpan, RespLimits.Replies);
                        if (simple > 0)
                        {
                            frame = rest.Slice(0, simple);
                            consumed = frame.End;
                        }
                        else
                        {
                            var reader = new SequenceReader<byte>(rest);
                            var status = RespFrameScanner.TryScan(ref reader, RespLimits.Replies, ref _scan, out var error);
                            if (status == RespScanStatus.Incomplete)
                            {
                                break;
                            }

                            if (status == RespScanStatus.Error)
                            {
                                throw new InvalidDataException("malformed reply from the server: " + error);
                            }

                            frame = rest.Slice(0, reader.Consumed);
                            consumed = reader.Position;
                        }

                        SharedRequest? request;
                        lock (_gate)
                        {
                            if (_awaiting == 0 || !_inFlight.TryDequeue(out request))
                            {
                                throw new InvalidDataException("a reply arrived for no command");
                            }

                            _awaiting--;
                        }

                        if (request is not null)
                        {
                            _owner.OnReply(this, request, frame, batch);
                        }
                    }

                    if (!consumed.Equals(buffer.Start))
                    {
                        var now = _owner.Time.GetTimestamp();
                        lock (_gate)
                        {
                            _progressAt = now;
                        }
                    }

                    if (!result.IsCompleted)
                    {
                        // The next batch to the server first, so it works while the replies go to the
                        // clients. Not on a closing connection: what is unsent there is routed again.
                        Flush(fromReader: true);
                    }
                }
                finally
                {
                    try
                    {
                        input.AdvanceTo(consumed, buffer.End);
                    }
                    finally
                    {
                        // Commands sent again (redirects) first, then every client that got replies: one flush each.
                        batch.End();
                    }
                }

                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex)
        {
            reason = ex.Message;
        }

        _owner.OnConnectionLost(this, reason);
        await connection.DisposeAsync();
    }

    /// <summary>
    /// Marks the connection dead and hands over what it held: commands sent (their outcome is unknown), and commands
    /// written after the last flush or still waiting for the connect, which never left the gateway. Called by the pool
    /// under its lock.
    /// </summary>
    internal (List<SharedRequest> Sent, List<SharedRequest> Unsent) Retire()
    {
        List<SharedRequest> sent = [];
        List<SharedRequest> unsent = [];
        lock (_gate)
        {
            _dead = true;
            var flushed = _awaiting;
            foreach (var entry in _inFlight)
            {
                if (entry is not null)
                {
                    (flushed > 0 ? sent : unsent).Add(entry);
                }

                flushed--;
            }

            // Still connecting: ConnectAsync sees _dead and closes what it opens, so these are never written.
            unsent.AddRange(_waitingForConnect);
            _waitingForConnect.Clear();
            _inFlight.Clear();
            _awaiting = 0;
            _unflushed = 0;
        }

        return (sent, unsent);
    }

    public void FlushAtBatchEnd() => Flush();

    /// <summary>
    /// Closes the connection: its reader reports the loss. While still connecting there is nothing to close yet:
    /// ConnectAsync sees the connection dead once the connect completes, closes it and hands back what was queued.
    /// </summary>
    public void Abort()
    {
        BackendConnection? connection;
        lock (_gate)
        {
            _dead = true;
            connection = _connection;
        }

        connection?.Abort();
    }
}
