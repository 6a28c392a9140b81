using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Text;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Resp;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Backends.Links;

internal sealed partial class MasterLink
{
    /// <summary>The backend died. Caller holds the send lock and is the pump.</summary>
    private async Task LoseBackendLockedAsync(BackendConnection lost, ILinkClient client)
    {
        var output = client.Output;
        // A master going away may still accept connections for a moment: do not go back to it until a snapshot
        // newer than this one (a refresh is requested just below) still shows it up.
        var lostAt = _masters.Version;
        Volatile.Write(ref _backend, null);
        lost.Abort();
        await lost.DisposeAsync();
        _replyScan.Reset();
        _masters.RequestRefresh($"backend connection to {lost.Endpoint} lost");
        _state.OnBackendLost();

        var outcomeUnknown = GatewayReplies.OutcomeUnknown(lost.Endpoint.ToString());
        var entries = new List<PendingCommand>();
        while (_pending.TryDequeue(out var p))
        {
            if (p.LocalReply is not null)
            {
                entries.Add(p);
            }
            else if (p.IsInternal)
            {
                // Replay commands point at the state's own arrays: nothing to release but a credit (none).
                Recycle(in p);
            }
            else if ((p.IsReadOnly || IsSubscribeFamily(p.Kind)) && p.Kind != CommandKind.Monitor)
            {
                // Read-only (or idempotent subscribe): safe to send again on the new master.
                p.RepliesLeft = Math.Max(p.RepliesLeft, 1);
                entries.Add(p);
            }
            else
            {
                p.LocalReply = outcomeUnknown;
                entries.Add(p);
            }
        }

        // Errors at the head of the order can go out now, before the (bounded) wait for a master.
        var flushedHead = 0;
        while (flushedHead < entries.Count && entries[flushedHead].LocalReply is { } reply)
        {
            output.Write(reply);
            Recycle(entries[flushedHead]);
            flushedHead++;
        }

        GiveBackCredits();
        if (flushedHead > 0)
        {
            await FlushClientAsync(output);
        }

        var acquired = !_clientDone && await AcquireBackendLockedAsync(lost.NodeId, lostAt);
        var backend = Volatile.Read(ref _backend);
        var noMaster = NoMaster();
        for (var i = flushedHead; i < entries.Count; i++)
        {
            var p = entries[i];
            if (p.LocalReply is null)
            {
                if (acquired && backend is not null)
                {
                    backend.Output.Write(p.Request);
                }
                else
                {
                    p.LocalReply = noMaster;
                }
            }

            _pending.Enqueue(p);
        }

        if (acquired && backend is not null)
        {
            try
            {
                await backend.Output.FlushAsync(_aborted.Token);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Seen again by the next read.
            }
        }
    }

    /// <summary>Planned move: the group's confirmed master is another node while ours still answers.</summary>
    private async Task MoveIfMasterChangedAsync(ILinkClient client)
    {
        var output = client.Output;
        var current = Volatile.Read(ref _backend);
        var target = _masters.ConfirmedMaster(_groupId, out _);
        if (current is null || target is null || target.Value.NodeId == current.NodeId)
        {
            return;
        }

        await _sendLock.WaitAsync(_aborted.Token);
        try
        {
            if (!ReferenceEquals(Volatile.Read(ref _backend), current))
            {
                return;
            }

            if (_masters.IsDownOrGone(current.NodeId))
            {
                // The old master is down (it may hang without closing its sockets): waiting for its replies
                // would only delay the move. What it had is lost like any crash.
                await LoseBackendLockedAsync(current, client);
                return;
            }

            // Let every reply of the old master arrive (bounded), so nothing is lost or resent.
            using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(2), _time);
            using var wakeReader = drain.Token.Register(() => current.Input.CancelPendingRead());
            var alive = true;
            while (alive && HasBackendWork() && !drain.IsCancellationRequested)
            {
                alive = await ReadRepliesOnceAsync(current, client);
            }

            if (HasBackendWork() || !alive)
            {
                await LoseBackendLockedAsync(current, client);
                return;
            }

            LogMoved(current.Endpoint.ToString(), target.Value.Connect.ToString());
            Volatile.Write(ref _backend, null);
            current.Abort();
            await current.DisposeAsync();
            _replyScan.Reset();
            _state.OnBackendLost();
            await AcquireBackendLockedAsync();
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private bool HasBackendWork() => _pending.AnyAwaitingBackend();

    /// <summary>
    /// Connects to the group's confirmed master, waiting for one up to the hold time. Replays the
    /// connection state as internal commands. Caller holds the send lock.
    /// </summary>
    /// <param name="avoidNode">A node just lost: not connected to again unless a snapshot newer than <paramref name="lostAt"/> still names it.</param>
    private async Task<bool> AcquireBackendLockedAsync(string? avoidNode = null, long lostAt = -1)
    {
        var options = _options;
        var time = _time;
        var deadline = time.GetUtcNow() + options.HoldTimeout;
        string? failedNode = null;
        var failedVersion = -1L;
        var waiting = false;
        var acquired = false;
        try
        {
            while (!_stopping && !_aborted.IsCancellationRequested)
            {
                var next = _masters.NextChangeAsync(_aborted.Token);
                if (_masters.ConfirmedMaster(_groupId, out var version) is { } master
                    && !(master.NodeId == failedNode && version == failedVersion)
                    && !(master.NodeId == avoidNode && version <= lostAt))
                {
                    try
                    {
                        var backend = await _connector.ConnectAsync(master.NodeId, master.Connect, options.ConnectTimeout, _aborted.Token);
                        Volatile.Write(ref _backend, backend);
                        Interlocked.Increment(ref _connections);
                        _replyScan.Reset();
                        WriteReplay(backend);
                        await backend.Output.FlushAsync(_aborted.Token);
                        LogConnected(master.Connect.ToString());
                        Wake();
                        acquired = true;
                        return true;
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException || !_aborted.IsCancellationRequested)
                    {
                        Volatile.Write(ref _backend, null);
                        failedNode = master.NodeId;
                        failedVersion = version;
                        _masters.RequestRefresh($"connect to master {master.Connect} failed: {ex.Message}");
                    }
                }

                var remaining = deadline - time.GetUtcNow();
                if (remaining <= TimeSpan.Zero)
                {
                    break;
                }

                if (!waiting)
                {
                    // The client's commands are held from here until a master is confirmed (or the hold time ends).
                    waiting = true;
                    options.Stats?.BeginWaitForMaster();
                }

                try
                {
                    await next.WaitAsync(remaining, time, _aborted.Token);
                }
                catch (TimeoutException)
                {
                    break;
                }
            }
        }
        finally
        {
            if (waiting)
            {
                options.Stats?.EndWaitForMaster(_groupId, acquired);
            }
        }

        LogHoldExpired(options.HoldTimeout.TotalMilliseconds);
        return false;
    }

    private void WriteReplay(BackendConnection backend)
    {
        foreach (var (bytes, kind, replies) in _state.ReplayCommands(_options.User, _options.Password))
        {
            // The state's arrays are never changed once recorded, so the command points at them.
            _pending.Enqueue(new PendingCommand
            {
                Bytes = bytes,
                Length = bytes.Length,
                Kind = kind,
                RepliesLeft = replies,
                Flags = PendingFlags.Internal,
            });
            backend.Output.Write(bytes);
        }
    }
}
