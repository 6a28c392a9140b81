using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using ClusterGate.Core.Resp;

namespace ClusterGate.Core.Backends;

/// <summary>
/// A plain request/response connection for control-plane commands (<c>CLUSTER NODES</c>,
/// <c>INFO</c>, <c>COMMAND</c>). One caller at a time; commands of one call are pipelined.
/// Not for the data plane: it materializes every reply.
/// </summary>
public sealed class ControlConnection : IAsyncDisposable
{
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly IAsyncDisposable _owner;
    private readonly Func<bool> _connected;
    private readonly RespLimits _limits;
    private bool _broken;

    private ControlConnection(PipeReader reader, PipeWriter writer, IAsyncDisposable owner, Func<bool> connected, RespLimits limits)
    {
        _reader = reader;
        _writer = writer;
        _owner = owner;
        _connected = connected;
        _limits = limits;
    }

    public NodeEndpoint Endpoint { get; private init; }

    /// <summary>False once a call failed midway: the stream position is unknown, reconnect.</summary>
    public bool IsUsable => !_broken && _connected();

    public static async Task<ControlConnection> ConnectAsync(NodeEndpoint endpoint, RespLimits limits, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken);
            var stream = new NetworkStream(socket, ownsSocket: true);
            return new ControlConnection(PipeReader.Create(stream), PipeWriter.Create(stream), stream, () => socket.Connected, limits) { Endpoint = endpoint };
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>A control connection over the gateway's transport (the io_uring engine or Kestrel's sockets).</summary>
    public static async Task<ControlConnection> ConnectAsync(IBackendConnector connector, NodeEndpoint endpoint, RespLimits limits, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connector);
        var backend = await connector.ConnectAsync("control", endpoint, timeout, cancellationToken);
        return new ControlConnection(backend.Input, backend.Output, backend, static () => true, limits) { Endpoint = endpoint };
    }

    public async Task<RespValue> ExecuteAsync(string[] command, CancellationToken cancellationToken)
    {
        var replies = await ExecuteAsync([command], cancellationToken);
        return replies[0];
    }

    /// <summary>Sends every command in one write and reads one reply per command.</summary>
    public async Task<RespValue[]> ExecuteAsync(IReadOnlyList<string[]> commands, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(commands);
        if (_broken)
        {
            throw new InvalidOperationException($"{Endpoint}: connection is broken by an earlier failed call");
        }

        _broken = true;
        var request = new ArrayBufferWriter<byte>(256);
        foreach (var command in commands)
        {
            RespWriter.WriteCommand(request, command);
        }

        await _writer.WriteAsync(request.WrittenMemory, cancellationToken);

        var replies = new RespValue[commands.Count];
        var count = 0;
        while (count < replies.Length)
        {
            var result = await _reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var consumed = buffer.Start;
            try
            {
                while (count < replies.Length)
                {
                    var reader = new SequenceReader<byte>(buffer.Slice(consumed));
                    var status = RespValue.TryRead(ref reader, _limits, out var value, out var error);
                    if (status == RespScanStatus.Incomplete)
                    {
                        break;
                    }

                    if (status == RespScanStatus.Error)
                    {
                        throw new InvalidDataException($"{Endpoint}: {error}");
                    }

                    replies[count++] = value!;
                    consumed = reader.Position;
                }

                if (count < replies.Length && result.IsCompleted)
                {
                    throw new IOException($"{Endpoint}: connection closed by the server");
                }
            }
            finally
            {
                _reader.AdvanceTo(consumed, buffer.End);
            }
        }

        _broken = false;

        // Off the I/O thread the reply completed on (a ring's, on the io_uring transport): what the caller does with it
        // (topology reconciliation, events, logging) must not hold up relayed commands.
        await Task.Yield();
        return replies;
    }

    public async ValueTask DisposeAsync()
    {
        _broken = true;
        await _reader.CompleteAsync();
        await _writer.CompleteAsync();
        await _owner.DisposeAsync();
    }
}
