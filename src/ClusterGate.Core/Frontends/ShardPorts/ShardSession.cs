using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Backends.InFlight;
using ClusterGate.Core.Backends.Links;
using ClusterGate.Core.Frontends.Rewrite;
using ClusterGate.Core.Resp;
using ClusterGate.Core.Routing;
using ClusterGate.Core.Routing.Commands;
using ClusterGate.Core.Topology;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace ClusterGate.Core.Frontends.ShardPorts;

/// <summary>
/// One client connection on a shard port, relayed to its group's current master.
/// </summary>
/// <remarks>
/// Two loops share the session. The client loop (here) parses requests, classifies each and hands it to the
/// session's <see cref="MasterLink"/>, which records it in the reply order and writes it to the group's master. The
/// link's pump is the only writer to the client and follows the master through failovers; it calls back into the
/// session (<see cref="WriteReply"/>) for the replies a shard port rewrites.
/// </remarks>
internal sealed partial class ShardSession : IClientSession, ILinkClient, IDisposable
{
    private readonly ConnectionContext _client;
    private readonly ShardPortContext _context;
    private readonly int _groupId;
    private readonly ILogger _logger;
    private readonly MasterLink _link;
    private readonly Observability.GroupStats _groupStats;

    // The client may run commands: the gateway has no password, or the client authenticated (ClientAuth). Read loop only.
    private bool _authenticated;
    private int _resetsSent;
    private readonly RespRequest _request = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] _lastName = new byte[32];
    private int _lastNameLength;

    /// <summary>Reads left until one is timed (its first command), when the host records latency.</summary>
    private int _sampleCountdown = Observability.CommandTimings.SampleEvery;

    /// <summary>When the read being processed is timed, when it arrived; 0 once its first command took it.</summary>
    private long _sampleReadAt;
    private CommandTraits _lastTraits;

    /// <summary>The client closed or reset its connection (not QUIT, not a protocol error, not a shutdown).</summary>
    private volatile bool _clientGone;
    private volatile bool _stopping;

    public ShardSession(ConnectionContext client, ShardPortContext context, int groupId, long id)
    {
        _client = client;
        _context = context;
        _groupId = groupId;
        _groupStats = context.Stats.Group(groupId);
        _authenticated = context.Options.Password is null;
        _logger = context.Logger;
        Id = id;
        _link = new MasterLink(groupId, id, context.Masters, context.Connector, context.LinkOptions, context.Logger, context.TimeProvider);
    }

    public long Id { get; }

    public Task Completion => _done.Task;

    public string? BackendNodeId => _link.NodeId;

    /// <summary>Where the link's pump writes replies: the client.</summary>
    public PipeWriter Output => _client.Transport.Output;

    /// <summary>The group's master changed: move to it once in-flight replies are in.</summary>
    public void RequestMove() => _link.RequestMove();

    /// <summary>Stop reading new commands; in-flight replies still drain.</summary>
    public void BeginShutdown()
    {
        _stopping = true;
        _client.Transport.Input.CancelPendingRead();
        _link.BeginShutdown();
    }

    /// <summary>Drop everything now (drain time is over).</summary>
    public void Abort()
    {
        if (_done.Task.IsCompleted)
        {
            return;
        }

        _client.Abort(new ConnectionAbortedException("the gateway is shutting down"));
        _link.Abort();
    }

    public async Task RunAsync()
    {
        ShardSessionLog.SessionStarted(_logger, Id, _groupId, _client.RemoteEndPoint?.ToString() ?? "?");
        var pump = Task.Run(() => _link.PumpAsync(this));
        var clientLoop = RunClientLoopAsync();
        if (await Task.WhenAny(pump, clientLoop) == pump)
        {
            // The pump ended first: the client is gone (or QUIT was answered). Stop reading requests that
            // nobody will see answered, even when the loop is waiting for in-flight credits.
            _link.Abort();
            _client.Transport.Input.CancelPendingRead();
        }

        await clientLoop;
        if (_clientGone)
        {
            // The client left: nobody will read what is pending, and a command still running on the backend
            // (BLPOP, a stalled inline request) must not outlive it. Closing the backend makes Redis drop it.
            _link.Abort();
        }
        else if (!_stopping && !pump.IsCompleted
            && await Task.WhenAny(pump, Task.Delay(_context.Options.DrainTimeout, _context.TimeProvider)) != pump)
        {
            // QUIT or a protocol error: earlier replies go out first, but a reply that never comes
            // (a blocked command) cannot keep the session.
            _link.Abort();
        }

        try
        {
            await pump;
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException or InvalidOperationException)
        {
        }
        finally
        {
            await _link.DisposeAsync();
            await _client.Transport.Output.CompleteAsync();
            await _client.Transport.Input.CompleteAsync();
            ShardSessionLog.SessionEnded(_logger, Id, _groupId);
            Dispose();
            _done.TrySetResult();
        }
    }

    // ---------------------------------------------------------------- client → backend

    private async Task RunClientLoopAsync()
    {
        try
        {
            await ClientLoopAsync();
        }
        catch (Exception ex) when (ex is ConnectionResetException or ConnectionAbortedException or IOException or OperationCanceledException)
        {
            // The client went away (or the session is being torn down); nothing to answer.
            _clientGone = !_stopping;
        }
        finally
        {
            _link.ClientDone = true;
        }
    }

    public void Dispose() => _request.Dispose();
}
