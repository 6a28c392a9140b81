using System.Collections.Concurrent;
using System.Net.Sockets;
using ClusterGate.Core.Backends;
using ClusterGate.Core.Resp;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace ClusterGate.Core.Topology;

/// <summary>
/// Asks nodes for <c>CLUSTER NODES</c> and <c>INFO replication</c> (pipelined, one round trip) over
/// kept-alive control connections. Each node has its own Polly pipeline: a bounded attempt, one
/// quick retry with jitter, and a circuit breaker, so a dead or hanging node costs little.
/// </summary>
public sealed class NodeQueryClient : IAsyncDisposable
{
    private static readonly string[] ClusterNodes = ["CLUSTER", "NODES"];
    private static readonly string[] InfoReplication = ["INFO", "replication"];

    private readonly TopologyMonitorOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly IBackendConnector? _connector;
    private readonly ConcurrentDictionary<NodeEndpoint, NodeChannel> _channels = new();

    /// <param name="connector">The gateway's transport for control connections; null: .NET sockets of their own.</param>
    public NodeQueryClient(TopologyMonitorOptions options, TimeProvider timeProvider, IBackendConnector? connector = null)
    {
        _options = options;
        _timeProvider = timeProvider;
        _connector = connector;
    }

    /// <summary>Queries one node; never throws (a failure is a view with <see cref="NodeView.Error"/>).</summary>
    public async Task<NodeView> QueryAsync(NodeEndpoint endpoint, CancellationToken cancellationToken)
    {
        var channel = _channels.GetOrAdd(endpoint, e => new NodeChannel(e, BuildPipeline()));
        if (channel.Gate.CurrentCount == 0 && Volatile.Read(ref channel.BusySince) is var since and not 0
            && _timeProvider.GetElapsedTime(since) > _options.StragglerGrace)
        {
            // The last question to this node is still unanswered (it hangs): do not queue another one behind it.
            return new NodeView(endpoint, null, null, "the previous query has not been answered yet");
        }

        try
        {
            return await channel.Pipeline.ExecuteAsync(static async (state, ct) => await state.Client.QueryOnceAsync(state.Channel, ct), (Client: this, Channel: channel), cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            return new NodeView(endpoint, null, null, Describe(ex));
        }
    }

    /// <summary>Runs one arbitrary command on a node through its channel (used for <c>COMMAND</c> and tests).</summary>
    public async Task<RespValue> ExecuteAsync(NodeEndpoint endpoint, string[] command, CancellationToken cancellationToken)
    {
        var channel = _channels.GetOrAdd(endpoint, e => new NodeChannel(e, BuildPipeline()));
        return await channel.Pipeline.ExecuteAsync(static async (state, ct) =>
        {
            var replies = await state.Client.RunAsync(state.Channel, [state.Command], ct);
            return replies[0];
        }, (Client: this, Channel: channel, Command: command), cancellationToken);
    }

    private async ValueTask<NodeView> QueryOnceAsync(NodeChannel channel, CancellationToken cancellationToken)
    {
        var replies = await RunAsync(channel, [ClusterNodes, InfoReplication], cancellationToken);
        if (replies[0].Type == RespType.Error && replies[0].AsString().StartsWith("BUSY ", StringComparison.Ordinal))
        {
            // A script or function is running: the node is alive, only busy.
            return new NodeView(channel.Endpoint, null, null, replies[0].AsString()) { Busy = true };
        }

        if (replies[0].Type == RespType.Error)
        {
            // A real answer that is not a cluster view (cluster mode off, NOAUTH): not worth a retry.
            return new NodeView(channel.Endpoint, null, null, replies[0].AsString());
        }

        var nodes = ClusterNodesParser.Parse(replies[0].AsString());
        var replication = replies[1].Type == RespType.Error ? null : InfoReplicationParser.Parse(replies[1].AsString());
        return new NodeView(channel.Endpoint, nodes, replication, null);
    }

    private async ValueTask<RespValue[]> RunAsync(NodeChannel channel, IReadOnlyList<string[]> commands, CancellationToken cancellationToken)
    {
        await channel.Gate.WaitAsync(cancellationToken);
        Volatile.Write(ref channel.BusySince, _timeProvider.GetTimestamp());
        try
        {
            var connection = channel.Connection;
            if (connection is null || !connection.IsUsable)
            {
                if (connection is not null)
                {
                    await connection.DisposeAsync();
                }

                channel.Connection = null;
                connection = await ConnectAsync(channel.Endpoint, cancellationToken);
                channel.Connection = connection;
            }

            try
            {
                return await connection.ExecuteAsync(commands, cancellationToken);
            }
            catch
            {
                channel.Connection = null;
                await connection.DisposeAsync();
                throw;
            }
        }
        finally
        {
            Volatile.Write(ref channel.BusySince, 0);
            channel.Gate.Release();
        }
    }

    private async Task<ControlConnection> ConnectAsync(NodeEndpoint endpoint, CancellationToken cancellationToken)
    {
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connectTimeout.CancelAfter(_options.ConnectTimeout);
        ControlConnection connection;
        try
        {
            connection = _connector is null
                ? await ControlConnection.ConnectAsync(endpoint, RespLimits.Default, connectTimeout.Token)
                : await ControlConnection.ConnectAsync(_connector, endpoint, RespLimits.Default, _options.ConnectTimeout, connectTimeout.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"connect timed out after {_options.ConnectTimeout.TotalMilliseconds:0} ms");
        }

        if (_options.Password is { } password)
        {
            string[] auth = _options.User is { } user ? ["AUTH", user, password] : ["AUTH", password];
            var reply = await connection.ExecuteAsync(auth, cancellationToken);
            if (reply.Type == RespType.Error)
            {
                await connection.DisposeAsync();
                throw new InvalidOperationException($"AUTH failed: {reply.AsString()}");
            }
        }

        return connection;
    }

    private ResiliencePipeline BuildPipeline()
    {
        var transient = new PredicateBuilder()
            .Handle<SocketException>()
            .Handle<IOException>()
            .Handle<TimeoutException>()
            .Handle<TimeoutRejectedException>()
            .Handle<InvalidDataException>();

        // A refused or reset connection is worth one quick retry (a node restarting, a stale kept-alive connection);
        // a timeout is not: the node hangs, and asking again would double what it costs every refresh.
        var retryable = new PredicateBuilder()
            .Handle<SocketException>()
            .Handle<IOException>()
            .Handle<InvalidDataException>();
        return new ResiliencePipelineBuilder { TimeProvider = _timeProvider }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = 1,
                Delay = TimeSpan.FromMilliseconds(20),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = retryable,
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 1.0,
                MinimumThroughput = Math.Max(2, _options.CircuitBreakerFailures),
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = _options.CircuitBreakDuration,
                ShouldHandle = transient,
            })
            .AddTimeout(_options.CommandTimeout)
            .Build();
    }

    private static string Describe(Exception ex) => ex switch
    {
        SocketException s => s.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.HostNotFound or SocketError.NoData => "host not found",
            SocketError.TimedOut => "connect timed out",
            _ => s.Message,
        },
        BrokenCircuitException => "circuit open after repeated failures",
        TimeoutRejectedException => "no answer within the command timeout",
        _ => ex.Message,
    };

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels.Values)
        {
            if (channel.Connection is { } connection)
            {
                await connection.DisposeAsync();
            }

            channel.Gate.Dispose();
        }

        _channels.Clear();
    }

    private sealed class NodeChannel(NodeEndpoint endpoint, ResiliencePipeline pipeline)
    {
        public NodeEndpoint Endpoint { get; } = endpoint;

        public ResiliencePipeline Pipeline { get; } = pipeline;

        public SemaphoreSlim Gate { get; } = new(1, 1);

        /// <summary>When the call holding <see cref="Gate"/> started (a TimeProvider timestamp), 0 when free.</summary>
        public long BusySince;

        public ControlConnection? Connection { get; set; }
    }
}
